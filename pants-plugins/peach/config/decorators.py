"""The peach decorator in notebooks (semantics §9): find it, check its `py_env`, list what it decorates.

No Pants imports: the Pants side reads the notebooks (`notebooks.read_notebook`) and hands them in.
`find_decorated` is a pure parse of one notebook (memoizable per notebook); `check_decorators` and
`decorated_of` apply it to one codops, so a notebook shared by two codops is checked against the
environments of each, and listed for each.

What counts (decided here, where §9 is silent):

- A *decorator call*: a decorator written as a call (`@task(...)`) whose callee is one of the names
  `peach`, `task`, `endpoint_component`, either bare (`@task(...)`, whatever it was imported from) or
  as the last attribute of any dotted name (`@peach.task(...)`, `@p.endpoint_component(...)` after
  `import peach as p`, `@peach.peach(...)`, `@a.b.task(...)`). The kind is that name.
- An alias made by `from <any module> import task as t` (or `peach`, `endpoint_component`) anywhere in
  the notebook (cells share one namespace and may run in any order) counts as its original name:
  `@t(py_env="ml")` is a `task` decorator. Module aliases need nothing special (`p.task` is an
  attribute form). Aliases by assignment (`t = peach.task`) are not followed.
- `py_env` is read only from the keyword `py_env=`; positional arguments are ignored. A call without
  `py_env=` is ignored (it selects nothing), and so is a decorator that is not a call (`@task`),
  unless the call passes `**kwargs`: then `py_env` may be in them, and it is listed with an unknown
  environment. A string literal (including implicit concatenation and an f-string without
  placeholders) is the environment; anything else (a variable, an expression, `None`, a number, or
  `py_env=` given twice, which Python refuses) is listed with environment None and not checked.
- Decorated functions and `async` functions at any depth are found, and classes too (the decorator
  selects the environment of whatever it decorates). `function` is the Python `__qualname__`:
  `run`, `Model.predict` for a method, `outer.<locals>.inner` for a nested function. Rule 1 (the
  name must be an environment of the codops) applies to all of them; rule 2 (agree with the config)
  applies to the module-level function whose name is the config's `method` (functions defined under
  a top-level `if`/`try`/`with` are module-level too), never to methods or nested functions.
- `line` is the line of the decorator (where `py_env` is written), 1-based within the cell; `cell`
  counts every cell of the notebook from 1 (markdown cells too), as Jupyter shows them.
- IPython syntax: a cell that starts with a cell magic runs its body as Python only for `%%time`,
  `%%timeit`, `%%capture`, `%%prun` and `%%debug` (the magic line is blanked and the body parsed);
  any other cell magic (`%%bash`, `%%writefile`, `%%html`, ...) makes the cell skipped. Otherwise a
  cell that does not parse is fixed line by line: a line magic (`%time f()`), a shell escape
  (`!pip install x`, `files = !ls`), help (`?x`, `display?`, `x??`) on the line the parser rejects is
  replaced by `pass` (or a blank line when `pass` does not fit), until the cell parses; a cell whose
  lines are all indented is dedented, as IPython does. A cell that still does not parse (a genuine
  syntax error, or syntax newer than the build's Python, such as `match`) is skipped: the build
  never fails with a traceback on a notebook.
- Decorator calls outside decorator syntax (`run = task(py_env="ml")(run)`) are not followed.
- Problems are located in the notebook: `Problem(path=<notebook>, line=0, key="",
  what="cell 3, line 2: ...")`, which renders as `example/zzebu/nb.ipynb: cell 3, line 2: ...` (the
  notebook's own line numbers would point into its JSON, so no `path:line` is given).
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from peach.config.errors import Problem, did_you_mean, quote_list, shorten
from peach.config.model import BASE, Codops, EnvironmentKind
from peach.config.notebooks import NotebookCells
from peach.config.typed import Source

KINDS = ("peach", "task", "endpoint_component")

# Cell magics whose body is Python run in the notebook's namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

_CELL_MAGIC = re.compile(r"^\s*%%(\w*)")
# IPython's help syntax: `x?`, `x??`, `obj.attr?`, `%magic?`, `a[0]?` (after IPython's `_help_end_re`).
_HELP_END = re.compile(r"^\s*%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*\?\??\s*$")
# `files = !ls`, `t = %timeit -o f()`.
_ASSIGN_MAGIC = re.compile(r"^\s*[A-Za-z_][\w.\[\], ()*]*=\s*[%!]")
_PARSE_FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


@dataclass(frozen=True)
class DecoratedFunction:
    """A function (or class) carrying a peach decorator call with `py_env=`.

    `environment` is the literal name, or None when `py_env` is not a string literal.
    """

    notebook: str
    cell: int
    line: int
    function: str  # the __qualname__: `run`, `Model.predict`, `outer.<locals>.inner`
    kind: str  # "peach", "task" or "endpoint_component"
    environment: Optional[str]


# ---------------------------------------------------------------------------------------------
# Finding the decorators (a pure parse of one notebook)
# ---------------------------------------------------------------------------------------------

def find_decorated(cells: NotebookCells) -> Tuple[DecoratedFunction, ...]:
    """Every peach decorator call with `py_env` in the notebook's code cells, in cell and line order."""
    if cells.cells is None:
        return ()
    trees = []
    for number, source in cells.cells:
        tree = parse_cell(source)
        if tree is not None:
            trees.append((number, tree))
    aliases = _aliases(tree for _, tree in trees)
    found: List[DecoratedFunction] = []
    for number, tree in trees:
        try:
            for qualname, node in _definitions(tree.body, ""):
                for decorator in node.decorator_list:
                    selected = _selection(decorator, aliases)
                    if selected is not None:
                        kind, environment = selected
                        found.append(DecoratedFunction(cells.path, number, decorator.lineno, qualname, kind,
                                                       environment))
        except RecursionError:  # cannot happen within Python's indentation limit; never a traceback
            continue
    return tuple(sorted(set(found), key=lambda d: (d.cell, d.line, d.function, d.kind, d.environment or "")))


def parse_cell(source: str) -> Optional[ast.Module]:
    """The cell as Python, after IPython's syntax is set aside; None when it cannot be parsed."""
    text = _strip_cell_magic(source)
    if text is None:
        return None
    candidates = [text]
    dedented = textwrap.dedent(text)
    if dedented != text:
        candidates.append(dedented)
    for candidate in candidates:
        tree = _parse_fixing(candidate)
        if tree is not None:
            return tree
    return None


def _strip_cell_magic(source: str) -> Optional[str]:
    """The source with a Python-body cell magic line blanked; None for a cell of another language."""
    lines = source.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _CELL_MAGIC.match(line)
        if match is None:
            return source
        if match.group(1) not in PYTHON_CELL_MAGICS:
            return None
        lines[index] = ""
        return "\n".join(lines)
    return source


def _is_ipython_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return False
    return stripped[0] in "%!?" or bool(_HELP_END.match(line)) or bool(_ASSIGN_MAGIC.match(line))


def _parse(text: str):
    """The module, or the SyntaxError; None for anything else the parser refuses (NUL bytes, depth)."""
    try:
        tree = compile(text, "<cell>", "exec", flags=_PARSE_FLAGS, dont_inherit=True)
    except SyntaxError as error:  # IndentationError and TabError too
        return error
    except (ValueError, RecursionError, MemoryError, OverflowError):
        return None
    return tree if isinstance(tree, ast.Module) else None


def _parse_fixing(text: str) -> Optional[ast.Module]:
    original = text.split("\n")
    lines = list(original)
    replaced: Dict[int, int] = {}  # line index -> 1: `pass`, 2: blank
    for _ in range(2 * len(lines) + 1):
        result = _parse("\n".join(lines))
        if result is None or isinstance(result, ast.Module):
            return result
        index = (result.lineno or 0) - 1
        if not 0 <= index < len(lines):
            break
        if replaced.get(index) == 1:
            lines[index] = ""
            replaced[index] = 2
        elif index not in replaced and _is_ipython_line(original[index]):
            lines[index] = _pass(original[index])
            replaced[index] = 1
        else:
            break
    # The parser may point elsewhere than the IPython line: set every such line aside at once.
    lines = [_pass(line) if _is_ipython_line(line) else line for line in original]
    result = _parse("\n".join(lines))
    return result if isinstance(result, ast.Module) else None


def _pass(line: str) -> str:
    return line[: len(line) - len(line.lstrip())] + "pass"


def _aliases(trees: Iterable[ast.Module]) -> Dict[str, str]:
    """`from m import task as t` anywhere in the notebook: {"t": "task"}."""
    aliases: Dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in KINDS and alias.asname and alias.asname not in KINDS:
                        aliases[alias.asname] = alias.name
    return aliases


def _definitions(body: List[ast.stmt], prefix: str) -> Iterator[Tuple[str, ast.AST]]:
    """Every function and class under these statements, with its __qualname__."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            qualname = prefix + node.name
            yield qualname, node
            inner = f"{qualname}.<locals>." if not isinstance(node, ast.ClassDef) else f"{qualname}."
            yield from _definitions(node.body, inner)
            continue
        # compound statements (`if`, `for`, `while`, `try`, `with`, ...) keep the enclosing scope
        for field in ("body", "orelse", "finalbody"):
            yield from _definitions(_statements(getattr(node, field, None)), prefix)
        for handler in getattr(node, "handlers", None) or ():
            yield from _definitions(_statements(getattr(handler, "body", None)), prefix)
        for case in getattr(node, "cases", None) or ():  # `match` (when the parser knows it)
            yield from _definitions(_statements(getattr(case, "body", None)), prefix)


def _statements(value) -> List[ast.stmt]:
    return [s for s in value if isinstance(s, ast.stmt)] if isinstance(value, list) else []


def _selection(decorator: ast.expr, aliases: Mapping[str, str]) -> Optional[Tuple[str, Optional[str]]]:
    """(kind, environment) for a peach decorator call with `py_env`, else None."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    if isinstance(func, ast.Name):
        kind = func.id if func.id in KINDS else aliases.get(func.id)
    elif isinstance(func, ast.Attribute):
        kind = func.attr if func.attr in KINDS else None
    else:
        kind = None
    if kind is None:
        return None
    values = [k.value for k in decorator.keywords if k.arg == "py_env"]
    if not values:
        if any(k.arg is None for k in decorator.keywords):  # `**options` may carry py_env
            return kind, None
        return None
    if len(values) > 1:
        return kind, None
    return kind, _string(values[0])


def _string(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(
        isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.values
    ):
        return "".join(v.value for v in node.values)
    return None


# ---------------------------------------------------------------------------------------------
# Checking one codops
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ConfigRef:
    """An endpoint component or task that runs `method` of `notebook` in `environment`."""

    owner: str  # `endpoints.recommend.components.main` or `tasks.reindex`
    selector: str  # where its `py_env` goes: `endpoints.recommend` or `tasks.reindex`
    environment: str
    declared_in: Source  # of the `notebook:` key


def _config_refs(codops: Codops) -> Dict[Tuple[str, str], Tuple[_ConfigRef, ...]]:
    refs: Dict[Tuple[str, str], List[_ConfigRef]] = {}
    for endpoint in codops.endpoints:
        for component in endpoint.components:
            nb = component.notebook
            ref = _ConfigRef(nb.owner, f"endpoints.{endpoint.name}", endpoint.environment, nb.declared_in)
            refs.setdefault((nb.path, nb.method), []).append(ref)
    for task in codops.tasks:
        nb = task.notebook
        refs.setdefault((nb.path, nb.method), []).append(
            _ConfigRef(nb.owner, f"tasks.{task.name}", task.environment, nb.declared_in))
    return {key: tuple(dict.fromkeys(value)) for key, value in refs.items()}


def _notebook_paths(codops: Codops) -> List[str]:
    return sorted({nb.path for nb in codops.notebooks})


def valid_environments(codops: Codops) -> List[str]:
    """The environments code may select: `base` and the declared ones (not the internal gateway)."""
    return sorted({BASE, *(e.name for e in codops.environments if e.kind != EnvironmentKind.GATEWAY)})


def check_decorators(codops: Codops, found: Mapping[str, Tuple[DecoratedFunction, ...]]) -> Tuple[Problem, ...]:
    """The problems of §9 in the notebooks this codops references (`found`: path -> `find_decorated`)."""
    valid = valid_environments(codops)
    refs = _config_refs(codops)
    problems: List[Problem] = []
    for path in _notebook_paths(codops):
        for d in found.get(path, ()):
            if d.environment is None:
                continue  # not a literal: not checked
            configured = refs.get((path, d.function), ())
            if d.environment not in valid:
                problems.append(_unknown(codops, d, valid, configured))
                continue
            for ref in configured:
                if ref.environment != d.environment:
                    problems.append(_conflict(codops, d, ref))
    return tuple(problems)


def _where(d: DecoratedFunction) -> str:
    return f"cell {d.cell}, line {d.line}: the `{d.kind}` decorator on `{shorten(d.function, 60)}`"


def _unknown(codops: Codops, d: DecoratedFunction, valid: List[str], configured: Tuple[_ConfigRef, ...]) -> Problem:
    name = shorten(d.environment or "", 60)
    guess = did_you_mean(d.environment or "", valid, cutoff=0.6)
    what = f"{_where(d)} selects `py_env=\"{name}\"`, which is not an environment of codops `{codops.name}`"
    if guess:
        what += f"; did you mean `{guess}`?"
    agreed = sorted({ref.environment for ref in configured})
    if len(agreed) == 1:
        ref = configured[0]
        fix = (f"write `py_env=\"{agreed[0]}\"`, the environment the config gives `{ref.owner}` "
               f"({ref.declared_in})")
    elif guess:
        fix = f"write `py_env=\"{guess}\"`, or declare `{name}` under `py_environments` of codops `{codops.name}`"
    else:
        fix = (f"declare `{name}` under `py_environments` of codops `{codops.name}`, or write one of those "
               "names in the decorator")
    return Problem(d.notebook, 0, "", what, f"the environments of codops `{codops.name}`: {quote_list(valid)}", fix)


def _conflict(codops: Codops, d: DecoratedFunction, ref: _ConfigRef) -> Problem:
    config_file = ref.declared_in.path
    what = (f"{_where(d)} selects `py_env=\"{d.environment}\"`, but the config of codops `{codops.name}` runs "
            f"`{shorten(d.function, 60)}` as `{ref.owner}` in the environment `{ref.environment}` "
            f"({ref.declared_in}); the two must agree")
    if d.environment == BASE:
        config_fix = f"remove `py_env` from `{ref.selector}` in {config_file} (no `py_env` means `{BASE}`)"
    else:
        config_fix = f"set `py_env: {d.environment}` on `{ref.selector}` in {config_file}"
    return Problem(d.notebook, 0, "", what,
                   f"`py_env=\"{ref.environment}\"`, the environment of `{ref.selector}`",
                   f"write `py_env=\"{ref.environment}\"` in the decorator, or {config_fix}")


def decorated_of(codops: Codops, found: Mapping[str, Tuple[DecoratedFunction, ...]]) -> Tuple[DecoratedFunction, ...]:
    """The decorated functions of this codops' notebooks (by notebook path, then as found), for
    `environments.json`: a notebook shared by two codops is listed for each."""
    return tuple(d for path in _notebook_paths(codops) for d in found.get(path, ()))
