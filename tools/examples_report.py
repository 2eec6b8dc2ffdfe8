"""List public functions and classes of cvkit whose docstring has no Examples section."""
import ast
import sys
from pathlib import Path

missing = {}
root = Path(sys.argv[1] if len(sys.argv) > 1 else "cvkit")
for f in ([root] if root.is_file() else sorted(root.rglob("*.py"))):
    tree = ast.parse(f.read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            doc = ast.get_docstring(node) or ""
            if "Examples" not in doc:
                missing.setdefault(str(f), []).append(node.name)
total = sum(map(len, missing.values()))
for f, names in missing.items():
    print(f"{f}: {len(names)}: {', '.join(names)}")
print("total", total)
