"""Move imports written inside functions to the top of their module (issue 21: an import hidden
in a function hides a dependency; none of the hub's dodges a circle any more).

`python -m tools.hoist_imports FILE...` rewrites each file in place: every `import` / `from ...
import` statement inside a function (or method) body is removed there and added, once, to the
module's imports; `ruff check --select I --fix` sorts them afterwards. An import is left where
it is (and reported) when hoisting it would change what a name means: the name is bound
differently at module level, or differently in two functions. Run the tests after: an import
that creates a circle shows at once.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _bound_names(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """name -> what it is bound to (a dotted path), for each alias of the import."""
    names = {}
    for alias in node.names:
        if isinstance(node, ast.Import):
            bound = alias.asname or alias.name.split(".")[0]
            names[bound] = alias.name if alias.asname else alias.name.split(".")[0]
        else:
            module = "." * node.level + (node.module or "")
            names[alias.asname or alias.name] = f"{module}:{alias.name}"
    return names


def _module_bindings(tree: ast.Module) -> dict[str, str]:
    """Names bound at module level: imports (with what they are), and anything else ("?")."""
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(_bound_names(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = "?"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound[name.id] = "?"
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound[node.target.id] = "?"
    return bound


def _inner_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and inner not in found:
                    found.append(inner)
    return found


def hoist(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    module = _module_bindings(tree)
    wanted: dict[str, str] = {}
    movable, kept = [], []
    for node in _inner_imports(tree):
        names = _bound_names(node)
        clash = any((module.get(n) not in (None, target)) or (wanted.get(n) not in (None, target))
                    for n, target in names.items())
        if clash or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            kept.append(f"{path}:{node.lineno}: left in place (a name would change meaning)")
            continue
        wanted.update(names)
        movable.append(node)
    if not movable:
        return kept
    statements: list[str] = []
    needs_pass = _emptied_blocks(tree, set(map(id, movable)))
    for node in sorted(movable, key=lambda n: n.lineno, reverse=True):
        text = "".join(lines[node.lineno - 1:node.end_lineno]).strip()
        statement = " ".join(part.strip() for part in text.splitlines()).replace("( ", "(").replace(" )", ")")
        if statement not in statements:
            statements.append(statement)
        first = lines[node.lineno - 1]
        indent = first[:len(first) - len(first.lstrip())]
        lines[node.lineno - 1:node.end_lineno] = [f"{indent}pass\n"] if id(node) in needs_pass else []
    insert_at = _after_top_imports(tree)
    lines[insert_at:insert_at] = [s + "\n" for s in sorted(set(statements))]
    path.write_text("".join(lines))
    return kept


def _emptied_blocks(tree: ast.Module, moved: set[int]) -> set[int]:
    """For each block that would hold nothing once its imports move, the import to leave a
    `pass` in place of (a block holding only a docstring keeps it, and needs none)."""
    keep_pass = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or not block or not all(isinstance(s, ast.stmt) for s in block):
                continue
            if any(id(s) not in moved for s in block):
                continue
            keep_pass.add(id(block[-1]))
    return keep_pass


def _after_top_imports(tree: ast.Module) -> int:
    """The line (0-based) after the module's last top-level import, else after its docstring."""
    last = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = node.end_lineno
        elif last:
            break
    if last:
        return last
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        return first.end_lineno
    return 0


if __name__ == "__main__":
    for name in sys.argv[1:]:
        for line in hoist(Path(name)):
            print(line)
