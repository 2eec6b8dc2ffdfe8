"""Report what breaks the layout rules of DESIGN.md: long files, long functions, private imports.

Usage: python tools/layout_report.py [paths...]   (default: cvkit)
"""
import ast
import sys
from pathlib import Path

FILE_LIMIT, FUNC_LIMIT = 600, 80


def code_lines(node, lines):
    """Lines of code of a function: without its docstring, blank lines and comment-only lines."""
    body = node.body
    start = body[0].end_lineno + 1 if (body and isinstance(body[0], ast.Expr)
                                      and isinstance(getattr(body[0], "value", None), ast.Constant)
                                      and isinstance(body[0].value.value, str)) else node.lineno
    n = 0
    for i in range(start, node.end_lineno + 1):
        t = lines[i - 1].strip()
        if t and not t.startswith("#"):
            n += 1
    return n


def report(paths):
    problems = []
    files = [p for root in paths for p in (Path(root).rglob("*.py") if Path(root).is_dir() else [Path(root)])]
    for f in sorted(files):
        text = f.read_text()
        lines = text.splitlines()
        if len(lines) > FILE_LIMIT:
            problems.append(f"{f}: {len(lines)} lines (> {FILE_LIMIT})")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(node, lines)
                if n > FUNC_LIMIT:
                    problems.append(f"{f}:{node.lineno} {node.name}: {n} lines of code (> {FUNC_LIMIT})")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = getattr(node, "module", None) or ""
                names = [a.name for a in node.names]
                if "keras.src" in mod or any(n.startswith("keras.src") for n in names):
                    if f.name != "_graph.py":
                        problems.append(f"{f}:{node.lineno} imports keras.src")
    return problems


if __name__ == "__main__":
    out = report(sys.argv[1:] or ["cvkit"])
    print("\n".join(out) or "layout OK")
