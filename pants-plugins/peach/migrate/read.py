"""What the migration reads from one config file: its legacy lists, endpoints, tasks, environments.

Works on `tree`'s physical nodes, so that every list item keeps its text and comments (to
move them) and every key the mapping that holds it (to delete it). The file is validated before
(`build_model`, the removed keys aside), so the shapes peach checks are right here; what peach does
not check, the items of the removed lists, is checked here and reported as `Problem`s.
No Pants imports.
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

import yaml

from peach.config.errors import Problem, shorten
from peach.config.model import REMOVED_KEY
from peach.config.requirements import (
    VALID_REQUIREMENT,
    RequirementSyntaxError,
    parse_requirement,
)
from peach.migrate.tree import (
    Comment,
    NodeKind,
    PNode,
    Slot,
    Source,
    Tree,
    comments_in,
    deref,
    leading_comments_of,
    slot,
    slots,
    trailing_comments_of,
)
from peach.migrate.values import DepList, FileLegacy, Item, Member, MemberKind


def read_legacy(tree: Tree) -> Optional[FileLegacy]:
    """The file's legacy lists, endpoints, tasks and environments; None when its top level is no mapping."""
    root = deref(tree.root) if tree.root is not None else None
    if root is None or root.kind is not NodeKind.MAP:
        return None
    codops = slot(root, "codops")
    top = _removed(tree, slot(root, REMOVED_KEY), REMOVED_KEY)
    blocks, members = [], []
    for kind in MemberKind:
        block = kind.block
        mapping = _mapping(slot(root, block))
        blocks.append((block, _removed(tree, slot(mapping, REMOVED_KEY), f"{block}.{REMOVED_KEY}") if mapping else None))
        for entry in slots(mapping) if mapping else ():
            member = _member(tree, kind, entry)
            if member is not None:
                members.append(member)
    return FileLegacy(
        tree=tree,
        codops=codops.node.value if codops is not None and codops.node.is_str else "",
        top=top,
        blocks=tuple(blocks),
        members=tuple(members),
        envs=_environments(tree, root),
    )


def _mapping(entry: Optional[Slot]) -> Optional[PNode]:
    node = entry.node if entry is not None else None
    return node if node is not None and node.kind is NodeKind.MAP else None


def _member(tree: Tree, kind: MemberKind, entry: Slot) -> Optional[Member]:
    mapping = entry.node
    if entry.key == REMOVED_KEY or not isinstance(entry.key, str) or mapping.kind is not NodeKind.MAP:
        return None
    key = f"{kind.block}.{entry.key}"
    own = [_removed(tree, slot(mapping, REMOVED_KEY), f"{key}.{REMOVED_KEY}")]
    if kind is MemberKind.ENDPOINT:
        components = _mapping(slot(mapping, "components"))
        for component in slots(components) if components is not None else ():
            if isinstance(component.key, str) and component.node.kind is NodeKind.MAP:
                own.append(_removed(tree, slot(component.node, REMOVED_KEY),
                                    f"{key}.components.{component.key}.{REMOVED_KEY}"))
    py_env = slot(mapping, "py_env")
    value = py_env.node.value if py_env is not None and py_env.node.is_str else None
    return Member(kind, entry.key, tree.source.path, tree.source.lineno(entry.key_node.start),
                  entry.key_node.start, key, entry, tuple(lst for lst in own if lst is not None), value)


def _environments(tree: Tree, root: PNode) -> Tuple[Tuple[str, DepList], ...]:
    envs, mapping = [], _mapping(slot(root, "py_environments"))
    for entry in slots(mapping) if mapping is not None else ():
        deps = slot(entry.node, "dependencies") if entry.node.kind is NodeKind.MAP else None
        if isinstance(entry.key, str) and deps is not None:
            lst = read_list(tree, deps, f"py_environments.{entry.key}.dependencies")
            envs.append((entry.key, replace(lst, items=tuple(replace(item, declared=True) for item in lst.items))))
    return tuple(envs)


def _removed(tree: Tree, entry: Optional[Slot], key: str) -> Optional[DepList]:
    return read_list(tree, entry, key) if entry is not None else None


# ---------------------------------------------------------------------------------------------
# One list, its entries and their comments
# ---------------------------------------------------------------------------------------------

def read_list(tree: Tree, entry: Slot, key: str) -> DepList:
    source = tree.source
    path, line = source.path, source.lineno(entry.key_node.start)
    node = entry.node
    if node.is_null:
        return DepList(path, key, line, entry, ())
    if node.kind is not NodeKind.SEQ:
        shown = f" (`{shorten(node.value, 60)}`)" if node.kind is NodeKind.SCALAR else ""
        fix = (f"write it as a list, `dependencies: [{shorten(node.value, 60)}]`" if node.kind is NodeKind.SCALAR
               else "write a list of requirement strings")
        kind = "a mapping" if node.kind is NodeKind.MAP else "a single value"
        return DepList(path, key, line, entry, (), problems=(Problem(
            path, line, key, f"must be a list of requirement strings, not {kind}{shown}", VALID_REQUIREMENT,
            f"{fix}, then run the migration again"),))
    items, problems = [], []
    for index, item in enumerate(node.items):
        parsed, problem = _item(tree, item, f"{key}[{index}]")
        items.append(parsed)
        if problem is not None:
            problems.append(problem)
    items, after = _with_comments(tree, entry, items)
    return DepList(path, key, line, entry, tuple(items), after, tuple(problems))


def _item(tree: Tree, written: PNode, key: str) -> Tuple[Item, Optional[Problem]]:
    source, node = tree.source, deref(written)
    line = source.lineno(written.start)
    if not node.is_str:
        shown = source.text[node.start:node.end] if node.kind is NodeKind.SCALAR else ""
        fix = (f"quote it: `'{shorten(shown, 60)}'`" if node.kind is NodeKind.SCALAR and not node.is_null
               else "write a requirement string, or delete the entry")
        item = Item(shown, None, "''", source.path, line, key)
        return item, Problem(source.path, line, key, f"must be a requirement string, not {_type_name(node, shown)}",
                             VALID_REQUIREMENT, f"{fix}, then run the migration again")
    text = as_written(source, written, node)
    try:
        return Item(node.value, parse_requirement(node.value), text, source.path, line, key), None
    except RequirementSyntaxError as e:
        what = f"`{shorten(node.value)}`: {e.what}" if node.value.strip() else e.what
        return Item(node.value, None, text, source.path, line, key), Problem(
            source.path, line, key, what, VALID_REQUIREMENT, f"{e.fix}, then run the migration again")


def _type_name(node: PNode, shown: str) -> str:
    """How a value's type is named in messages, as `yamlload.type_name` names it."""
    if node.kind in (NodeKind.MAP, NodeKind.SEQ):
        return "a mapping" if node.kind is NodeKind.MAP else "a list"
    if node.is_null:
        return "empty (null)"
    kind = node.tag.rsplit(":", 1)[-1]
    names = {"int": "a number", "float": "a number", "bool": "a boolean"}
    return f"{names.get(kind, 'a ' + kind)} ({shorten(shown, 40)})"


def as_written(source: Source, written: PNode, node: PNode) -> str:
    """The entry's own text when it reads back the same as a block-list entry, else a quoted copy."""
    if written is node and not node.is_block_scalar:
        text = source.text[node.start:node.end]
        if text[:1] not in ("&", "!", "*") and "\n" not in text and _reads_as(text, node.value):
            return text
    return scalar_text(node.value)


def _reads_as(text: str, value: str) -> bool:
    try:
        return yaml.safe_load(f"- {text}\n") == [value]
    except yaml.YAMLError:
        return False


def scalar_text(value: str, flow: bool = False) -> str:
    """`value` as a YAML scalar: plain when it reads back as the same string, else single-quoted."""
    plain = value and value == value.strip() and "\n" not in value and value[0] not in "&*!|>'\"%@`#,[]{}-?:"
    if plain and flow and any(c in value for c in ",[]{}"):
        plain = False
    if plain and (": " in value or " #" in value or value.endswith(":") or not _reads_as(value, value)):
        plain = False
    return value if plain else "'" + value.replace("'", "''") + "'"


def _with_comments(tree: Tree, entry: Slot, items: List[Item]) -> Tuple[List[Item], Tuple[str, ...]]:
    """Each entry with the comments around it: above it, and after it on its line; and the comments
    after the last entry.

    `items` are the list's entries in order, whether written here or (an alias) elsewhere. Comments
    above the `dependencies:` key (at its indentation) and on its line go to the first entry; comments
    after the last entry (indented deeper than the key) stay after it.
    """
    # the entries written here; none for an alias of a list written elsewhere (its comments stay there)
    spans = [(n.start, n.end) for n in entry.value.items] if entry.value.kind is NodeKind.SEQ else []
    before, inline, after = _attach(tree.source, _comments_around(tree, entry, spans), spans, len(items))
    if not spans and items:  # an alias: the comments around it go before its first entry
        before[0], after = after, []
    result = [replace(item, before=tuple(before[i]), inline=inline[i]) for i, item in enumerate(items)]
    return result, tuple(after)


def _comments_around(tree: Tree, entry: Slot, spans: Sequence[Tuple[int, int]]) -> List[Comment]:
    """Every comment of a `dependencies:` key: above it, in its value, after it (in text order)."""
    source = tree.source
    found: List[Comment] = list(leading_comments_of(tree, entry))
    cursor = entry.key_node.end
    for start, end in spans:
        found.extend(comments_in(source, cursor, start))
        cursor = end
    found.extend(comments_in(source, cursor, source.line_end(source.line_of(max(cursor, entry.value.end)))))
    found.extend(trailing_comments_of(tree, entry))
    return sorted(found, key=lambda c: c.index)


def _attach(source: Source, comments: Sequence[Comment], spans: Sequence[Tuple[int, int]],
            count: int) -> Tuple[List[List[str]], List[str], List[str]]:
    """Per entry, the own-line comments above it and the comment after it on its line; then the rest.

    A comment after content goes with the last entry ending on its line (if that one has none yet);
    every other comment goes above the next entry, or after the last one.
    """
    before: List[List[str]] = [[] for _ in range(count)]
    inline = [""] * count
    pending: List[str] = []
    position = 0
    for comment in comments:
        while position < len(spans) and spans[position][0] < comment.index:
            before[position], pending = pending, []
            position += 1
        last = position - 1
        if (not comment.own_line and last >= 0 and not inline[last]
                and source.line_of(spans[last][1]) == source.line_of(comment.index)):
            inline[last] = (comment.gap or " ") + comment.text
        else:
            pending.append(comment.text)
    while position < len(spans):
        before[position], pending = pending, []
        position += 1
    return before, inline, pending
