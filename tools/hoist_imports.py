"""Move imports written inside functions to the top of their module (issue 21: an import hidden
in a function hides a dependency; none of the hub's dodges a circle any more).

`python -m tools.hoist_imports FILE...` rewrites each file in place: every `import` / `from ...
import` statement inside a function (or method) body is removed there and added, once, to the
module's imports; `ruff check --select I --fix` sorts them afterwards. An import is left where
it is, and reported, when hoisting it could change what the program does:

- a name it binds is bound differently at module level (anywhere outside a function, also in an
  `if` or `try`), differently by another function's import, or is a builtin's name;
- its function also binds the name another way (an assignment, a loop, a parameter): hoisted, the
  name would still be that function's local, unbound where the import was;
- it sits in a `try` that catches ImportError (an optional dependency), or in a block that runs
  only sometimes under a `TYPE_CHECKING`-like `if`;
- it carries a `# noqa: PLC0415` (kept on purpose, with the reason beside it).

It also reports a comment just above a hoisted import, which may have explained why the import
was there (read it: it is left in place). Run the tests after: an import that creates a circle
shows at once.
"""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


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


def _scope_nodes(root: ast.AST):
    """Every node in root's own scope: not inside a nested function, lambda or class (whose own
    name is, and whose body's names are not, bound in root's scope)."""
    stack = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _stored_names(nodes) -> dict[str, str]:
    """Names bound by anything but an import among nodes ("?"), and by imports (their target)."""
    bound: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, target in _bound_names(node).items():
                bound.setdefault(name, target)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = "?"
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound[node.id] = "?"
        elif isinstance(node, ast.arg):
            bound[node.arg] = "?"
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bound[name] = "?"
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound[node.name] = "?"
    return bound


def _module_bindings(tree: ast.Module) -> dict[str, str]:
    """Names bound at module level, wherever (also inside an `if`, `try`, `for` or `with`)."""
    bound: dict[str, str] = {}
    for node in _scope_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, target in _bound_names(node).items():
                if bound.get(name, target) != target:
                    bound[name] = "?"  # bound two ways: nothing may be hoisted onto it
                else:
                    bound[name] = target
        else:
            for name, target in _stored_names([node]).items():
                bound[name] = target
    return bound


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _inner_imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, ast.AST]]:
    """(import, its innermost enclosing function) for each import inside a function."""
    found: dict[int, tuple[ast.Import | ast.ImportFrom, ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in _scope_nodes(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found[id(inner)] = (inner, node)
    return sorted(found.values(), key=lambda pair: pair[0].lineno)


def _why_kept(node, function, parents, lines, names, module, wanted) -> str | None:
    """The reason an import must stay where it is, or None when it may move to the top."""
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return "a __future__ import"
    if "noqa" in lines[node.lineno - 1] and "PLC0415" in lines[node.lineno - 1]:
        return "marked `# noqa: PLC0415`"
    parent = parents.get(id(node))
    while parent is not None and parent is not function:
        if isinstance(parent, ast.Try) and any(_catches_import_error(h) for h in parent.handlers):
            return "an optional import (its try catches ImportError)"
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            return "under TYPE_CHECKING"
        parent = parents.get(id(parent))
    local = _stored_names(n for n in _scope_nodes(function) if n is not node)
    for name, target in names.items():
        if hasattr(builtins, name):
            return f"`{name}` would shadow a builtin"
        if module.get(name) not in (None, target):
            return f"`{name}` is bound differently at module level"
        if wanted.get(name) not in (None, target):
            return f"`{name}` is imported as something else in another function"
        if local.get(name) not in (None, target):
            return f"its function also binds `{name}` another way"
    return None


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(c, ast.Name) and c.id in _IMPORT_ERRORS | {"Exception"} for c in caught)


def hoist(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    module = _module_bindings(tree)
    parents = _parents(tree)
    wanted: dict[str, str] = {}
    movable, report = [], []
    for node, function in _inner_imports(tree):
        names = _bound_names(node)
        reason = _why_kept(node, function, parents, lines, names, module, wanted)
        if reason:
            report.append(f"{path}:{node.lineno}: left in place: {reason}")
            continue
        wanted.update(names)
        movable.append(node)
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        if above.startswith("#"):
            report.append(f"{path}:{node.lineno}: hoisted; read the comment above it: {above[:80]}")
    if not movable:
        return report
    # Imports the module runs unconditionally, first thing (not those under an `if TYPE_CHECKING:`).
    top = {name: target for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
           for name, target in _bound_names(node).items()}
    statements: list[str] = []
    needs_pass = _emptied_blocks(tree, set(map(id, movable)))
    for node in sorted(movable, key=lambda n: n.lineno, reverse=True):
        # ast.unparse: one line, whatever comments or brackets the original had (ruff's isort wraps it).
        statement = ast.unparse(node)
        # (`import a.b` also loads a.b: a top-level `import a` does not serve it.)
        dotted = isinstance(node, ast.Import) and any("." in a.name and not a.asname for a in node.names)
        already = not dotted and all(top.get(name) == target for name, target in _bound_names(node).items())
        if statement not in statements and not already:  # the module's own import serves it already
            statements.append(statement)
        first = lines[node.lineno - 1]
        indent = first[:len(first) - len(first.lstrip())]
        if id(node) in needs_pass:
            lines[node.lineno - 1:node.end_lineno] = [f"{indent}pass\n"]
            continue
        # The blank line that set the function's imports apart from its code goes with them.
        blank_after = node.end_lineno < len(lines) and not lines[node.end_lineno].strip()
        del lines[node.lineno - 1:node.end_lineno + blank_after]
    insert_at = _after_top_imports(tree)
    lines[insert_at:insert_at] = [s + "\n" for s in sorted(set(statements))]
    path.write_text("".join(lines))
    return report


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
