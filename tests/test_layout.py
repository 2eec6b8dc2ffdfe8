"""The layout rules of DESIGN.md, checked on the source: small modules and functions, one file that
touches Keras internals, packages that use each other's public names only, tests that mirror the
package."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cvkit"
FILE_LIMIT, FUNCTION_LIMIT = 600, 80
SHARED = {"_validate", "_graph", "_lazy"}      # the package's shared layers, private by design

SOURCES = sorted(PACKAGE.rglob("*.py"))


def _code_lines(node, lines):
    """Lines of code of a function, without its docstring, blank lines and comment lines."""
    body = node.body
    start = node.lineno
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant) \
            and isinstance(body[0].value.value, str):
        start = body[0].end_lineno + 1
    return sum(1 for i in range(start, node.end_lineno + 1)
               if lines[i - 1].strip() and not lines[i - 1].strip().startswith("#"))


def _top_package(path):
    """'explain' for cvkit/explain/gradcam.py, 'boxes' for cvkit/boxes.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_module(path, node):
    """Absolute dotted name of the module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    pkg = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        pkg = list(path.relative_to(ROOT).parent.parts)
    base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else pkg
    return ".".join(base + ([node.module] if node.module else []))


def test_the_code_checker_measures_what_it_says():
    src = 'def f():\n    """Doc.\n\n    More.\n    """\n    # note\n    a = 1\n\n    return a\n'
    node = ast.parse(src).body[0]
    assert _code_lines(node, src.splitlines()) == 2
    fake = PACKAGE / "wsol" / "metrics.py"
    imp = ast.parse("from ..explain._core import x").body[0]
    assert _imported_module(fake, imp) == "cvkit.explain._core"
    imp = ast.parse("from . import y").body[0]
    assert _imported_module(fake, imp) == "cvkit.wsol"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_functions_are_small(path):
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) <= FILE_LIMIT, f"{path.name}: {len(lines)} lines"
    long = [(n.name, _code_lines(n, lines)) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _code_lines(n, lines) > FUNCTION_LIMIT]
    assert not long, f"functions over {FUNCTION_LIMIT} lines of code: {long}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_respect_the_layers(path):
    tree = ast.parse(path.read_text())
    own = _top_package(path)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            if any(n.startswith("keras.src") for n in names) and "_graph" not in path.parts:
                bad.append(f"line {node.lineno}: import keras.src")
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _imported_module(path, node)
        if module.startswith("keras.src") and "_graph" not in path.parts:
            bad.append(f"line {node.lineno}: from {module}")
        if not module.startswith("cvkit"):
            continue
        parts = module.split(".")[1:]
        other = parts[0] if parts else None
        if other is None or other == own:
            continue
        private_module = [p for p in parts if p.startswith("_") and p not in SHARED]
        private_names = [a.name for a in node.names if a.name.startswith("_")]
        if private_module or private_names:
            bad.append(f"line {node.lineno}: from {module} import "
                       f"{', '.join(a.name for a in node.names)}")
    assert not bad, "; ".join(bad)


def test_tests_mirror_the_package():
    packages = sorted(p.name for p in PACKAGE.iterdir()
                      if p.is_dir() and (p / "__init__.py").exists())
    missing = [p for p in packages if not (ROOT / "tests" / p).is_dir()]
    assert not missing, f"cvkit packages without a tests/ folder: {missing}"
    basenames = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    dup = sorted({b for b in basenames if basenames.count(b) > 1})
    assert not dup, f"test files with the same name in two folders (pytest cannot import both): {dup}"
