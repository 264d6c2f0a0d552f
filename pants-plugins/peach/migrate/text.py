"""Rewriting one config file in place: removing keys, setting `py_env`, adding environment entries.

Every change is an `Edit` of the file's text (a span and its replacement); untouched text keeps
its bytes. New YAML is written in the file's own style: its indentation step, whether its lists are
indented under their key, its line ending. When a change cannot be made safely (a mapping written in
flow style on one line would have to take comments, a value shared through an anchor, ...) an
`UnsafeEdit` says where and what to do by hand.
No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from peach.migrate.read import as_written, scalar_text
from peach.migrate.tree import (
    NodeKind,
    PNode,
    Slot,
    Tree,
    UnsafeEdit,
    deref,
    leading_comments_of,
    trailing_comments_of,
)
from peach.migrate.values import Item, NewList


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Style:
    """How the file indents: `unit` per level, `seq` more for a block list under its key (0 or `unit`)."""

    unit: int = 2
    seq: int = 2
    nl: str = "\n"


def detect_style(tree: Tree) -> Style:
    unit = seq = None
    source = tree.source

    def walk(node: PNode) -> None:
        nonlocal unit, seq
        if node.kind is not NodeKind.MAP or node.flow:
            return
        for key, value in node.pairs:
            if value.kind is NodeKind.MAP and not value.flow and value.pairs and unit is None:
                step = source.column(value.pairs[0][0].start) - source.column(key.start)
                unit = step if step > 0 else None
            if value.kind is NodeKind.SEQ and not value.flow and value.items and seq is None:
                seq = max(0, seq_column(tree, value) - source.column(key.start))
            walk(value)

    if tree.root is not None:
        walk(tree.root)
    unit = unit or 2
    return Style(unit, unit if seq is None else seq, source.nl)


def seq_column(tree: Tree, seq: PNode) -> int:
    """The column of a block list's `-` (its start may be an anchor on the line of its key)."""
    source = tree.source
    line = source.line_text(source.line_of(seq.items[0].start))
    return len(line) - len(line.lstrip())


def pad(column: int) -> str:
    return " " * column


def list_lines(new: NewList, column: int) -> List[str]:
    lines = []
    for item in new.items:
        lines.extend(pad(column) + comment for comment in item.before)
        lines.append(f"{pad(column)}- {item.text}{item.inline}")
    lines.extend(pad(column) + comment for comment in new.after)
    return lines


def env_lines(name: str, new: NewList, column: int, style: Style) -> List[str]:
    lines = [f"{pad(column)}{scalar_text(name)}:", f"{pad(column + style.unit)}dependencies:"]
    return lines + list_lines(new, column + style.unit + style.seq)


def flow_list(new: NewList) -> str:
    return ", ".join(item.text if item.text[:1] in ("'", '"') else scalar_text(item.value, flow=True)
                     for item in new.items)


def joined(lines: Sequence[str], style: Style) -> str:
    return "".join(line + style.nl for line in lines)


# ---------------------------------------------------------------------------------------------
# Removing a key
# ---------------------------------------------------------------------------------------------

def block_span(tree: Tree, entry: Slot) -> Tuple[int, int]:
    """The whole lines of a block mapping's key and value, with the comments that go with them."""
    source, key = tree.source, entry.key_node
    if not source.first_on_line(key.start):
        raise UnsafeEdit(key.start, "", "the key does not start its line, so its lines cannot be removed on their own",
                         "put the key on a line of its own")
    leading, trailing = leading_comments_of(tree, entry), trailing_comments_of(tree, entry)
    first = source.line_of(leading[0].index) if leading else source.line_of(key.start)
    last = source.line_of(trailing[-1].index) if trailing else source.line_of(entry.value.end)
    return source.line_start(first), source.next_line(last)


def remove(tree: Tree, entry: Slot) -> List[Edit]:
    """Edits that remove a key and its value from the mapping holding it."""
    if entry.holder.flow:
        return _remove_flow(tree, entry)
    source = tree.source
    start, end = block_span(tree, entry)
    before = source.line_of(start) - 1
    after = source.line_of(end) if end < len(source.text) else None
    if after is not None and (start == 0 or tree.is_blank_line(before)) and tree.is_blank_line(after):
        end = source.next_line(after)  # do not leave two blank lines (or a blank first line) behind
    elif after is None and start > 0 and tree.is_blank_line(before):
        start = source.line_start(before)  # nor a blank last line
    return [Edit(start, end, "")]


def _remove_flow(tree: Tree, entry: Slot) -> List[Edit]:
    text = tree.source.text
    pairs = entry.holder.pairs
    index = next(i for i, (key, _) in enumerate(pairs) if key is entry.key_node)
    start, end = entry.key_node.start, entry.value.end
    if index + 1 < len(pairs):
        following = pairs[index + 1][0].start
        between = text[end:following]
        return [Edit(start, end + between.index(",") + 1 if "#" in between else following, "")]
    if index > 0:
        previous = pairs[index - 1][1].end
        between = text[previous:start]
        comma = previous + between.index(",")
        if "#" in between:
            return [Edit(comma, comma + 1, ""), Edit(start, end, "")]
        return [Edit(previous, end, "")]
    return [Edit(start, end, "")]


def replace_with(tree: Tree, entry: Slot, key: str, value: str, style: Style) -> List[Edit]:
    """Edits that put `key: value` where the key of `entry` and its value are written."""
    if entry.holder.flow:
        return [Edit(entry.key_node.start, entry.value.end, f"{key}: {value}")]
    start, end = block_span(tree, entry)
    column = tree.source.column(entry.key_node.start)
    return [Edit(start, end, joined([f"{pad(column)}{key}: {value}"], style))]


# ---------------------------------------------------------------------------------------------
# Setting `py_env`
# ---------------------------------------------------------------------------------------------

def set_value(entry: Slot, value: str) -> List[Edit]:
    """Replace the written value of a key (`py_env: ml` -> `py_env: recommend`)."""
    return [Edit(entry.value.start, entry.value.end, value)]


def add_key(tree: Tree, mapping: PNode, key: str, value: str, style: Style) -> List[Edit]:
    """Add `key: value` to a mapping: after its leading one-line values (`url`, `notebook`, ...)."""
    source, text = tree.source, f"{key}: {value}"
    run = []
    for pair_key, pair_value in mapping.pairs:
        single = pair_value.kind is NodeKind.ALIAS or (
            pair_value.kind is NodeKind.SCALAR and not pair_value.is_block_scalar
            and source.line_of(pair_value.start) == source.line_of(pair_value.end))
        if not single:
            break
        run.append((pair_key, pair_value))
    if mapping.flow:
        if run:
            return [Edit(run[-1][1].end, run[-1][1].end, f", {text}")]
        if mapping.pairs:
            return [Edit(mapping.pairs[0][0].start, mapping.pairs[0][0].start, f"{text}, ")]
        brace = source.text.index("{", mapping.start) + 1
        return [Edit(brace, brace, text)]
    first_key = mapping.pairs[0][0]
    column = source.column(first_key.start)
    if run:
        return [insert_after_line(tree, source.line_of(run[-1][1].end), [pad(column) + text], style)]
    start = first_key.start
    leading = leading_comments_of(tree, Slot(None, first_key, mapping.pairs[0][1], mapping))
    if leading:
        start = leading[0].index
    if not source.first_on_line(first_key.start):
        raise UnsafeEdit(first_key.start, "", "the mapping does not start on a line of its own",
                         f"add `{text}` to it by hand")
    at = source.line_start(source.line_of(start))
    return [Edit(at, at, joined([pad(column) + text], style))]


def insert_after_line(tree: Tree, line: int, lines: Sequence[str], style: Style) -> Edit:
    source = tree.source
    at = source.next_line(line)
    if at == len(source.text) and not source.text.endswith("\n"):
        return Edit(at, at, style.nl + joined(lines, style)[: -len(style.nl)])
    return Edit(at, at, joined(lines, style))


def after_value_line(tree: Tree, entry: Slot) -> int:
    """The last line of a block key's value, with the comments indented under it."""
    trailing = trailing_comments_of(tree, entry)
    return tree.source.line_of(trailing[-1].index) if trailing else tree.source.line_of(entry.value.end)


# ---------------------------------------------------------------------------------------------
# Appending to an environment's list, adding environments
# ---------------------------------------------------------------------------------------------

def append_to_list(tree: Tree, entry: Slot, new: NewList, style: Style, what: str) -> List[Edit]:
    """Append entries to an existing `dependencies` list (block, flow, empty or null)."""
    source, value = tree.source, entry.value
    if value.kind is NodeKind.ALIAS:
        raise UnsafeEdit(value.start, what, f"the list is an alias (`*{value.value}`) of a list written elsewhere, "
                         "which the migration does not change", "write the list out here instead of the alias")
    empty = value.is_null or (value.kind is NodeKind.SEQ and not value.items)
    one_line = source.line_of(value.start) == source.line_of(value.end)
    if value.kind is NodeKind.SEQ and value.flow and value.items and new.has_comments and one_line and not entry.holder.flow:
        # `dependencies: [a, b]` cannot take comments: it becomes a block list, its entries first
        written = tuple(Item(deref(i).value, None, as_written(source, i, deref(i)), source.path, 0, "") for i in value.items)
        new = NewList(written + new.items, new.after)
        empty = True
    elif value.kind is NodeKind.SEQ and value.flow and value.items or (empty and entry.holder.flow):
        if new.has_comments:
            raise _flow_comments(value.start, what)
        if value.is_null:
            return [Edit(value.start, value.end, f" [{flow_list(new)}]")]
        at = value.items[-1].end if value.items else value.end - 1
        return [Edit(at, at, (", " if value.items else "") + flow_list(new))]
    column = source.column(entry.key_node.start)
    if empty:
        edits = [] if value.is_null else [Edit(_space_before(source.text, value.start), value.end, "")]
        line = source.line_of(entry.key_node.start)
        return edits + [insert_after_line(tree, line, list_lines(new, column + style.seq), style)]
    if value.kind is not NodeKind.SEQ:
        raise UnsafeEdit(value.start, what, "is not a list", "write the environment's `dependencies` as a list")
    item_column = seq_column(tree, value)
    return [insert_after_line(tree, after_value_line(tree, entry), list_lines(new, item_column), style)]


def _space_before(text: str, index: int) -> int:
    while index > 0 and text[index - 1] in " \t":
        index -= 1
    return index


def _flow_comments(index: int, what: str) -> UnsafeEdit:
    return UnsafeEdit(index, what, "the entries to move here carry comments, which a flow-style (`[...]`, `{...}`) "
                      "collection on one line cannot hold",
                      "write this collection in block style (one entry a line), or delete the comments of the "
                      "moved entries")


def add_environments(tree: Tree, envs_entry: Slot, new_envs: Sequence[Tuple[str, NewList]], style: Style) -> List[Edit]:
    """Add environments at the end of an existing `py_environments` mapping."""
    source, value = tree.source, envs_entry.value
    if not new_envs:
        return []
    if value.kind is NodeKind.ALIAS:
        raise UnsafeEdit(value.start, "py_environments", f"`py_environments` is an alias (`*{value.value}`) of a mapping "
                         "written elsewhere", "write the environments out here instead of the alias")
    empty = value.is_null or (value.kind is NodeKind.MAP and not value.pairs)
    if value.kind is NodeKind.MAP and value.flow and value.pairs:
        if any(new.has_comments for _, new in new_envs):
            raise _flow_comments(value.start, "py_environments")
        text = "".join(f", {scalar_text(name, flow=True)}: {{dependencies: [{flow_list(new)}]}}" for name, new in new_envs)
        return [Edit(value.pairs[-1][1].end, value.pairs[-1][1].end, text)]
    column = source.column(envs_entry.key_node.start)
    if empty:
        if envs_entry.holder.flow:
            raise _flow_comments(value.start, "py_environments")
        edits = [] if value.is_null else [Edit(_space_before(source.text, value.start), value.end, "")]
        lines = [line for name, new in new_envs for line in env_lines(name, new, column + style.unit, style)]
        return edits + [insert_after_line(tree, source.line_of(envs_entry.key_node.start), lines, style)]
    if value.kind is not NodeKind.MAP:
        raise UnsafeEdit(value.start, "py_environments", "is not a mapping", "write `py_environments` as a mapping")
    env_column = source.column(value.pairs[0][0].start)
    lines = [line for name, new in new_envs for line in env_lines(name, new, env_column, style)]
    return [insert_after_line(tree, after_value_line(tree, envs_entry), lines, style)]


def add_first_environment(tree: Tree, envs: PNode, name: str, new: NewList, style: Style) -> List[Edit]:
    """Add an environment (`base`) as the first entry of a non-empty `py_environments` mapping."""
    source = tree.source
    first_key, first_value = envs.pairs[0]
    if envs.flow:
        if new.has_comments:
            raise _flow_comments(envs.start, "py_environments")
        return [Edit(first_key.start, first_key.start, f"{scalar_text(name, flow=True)}: {{dependencies: [{flow_list(new)}]}}, ")]
    leading = leading_comments_of(tree, Slot(None, first_key, first_value, envs))
    at = source.line_start(source.line_of(leading[0].index if leading else first_key.start))
    return [Edit(at, at, joined(env_lines(name, new, source.column(first_key.start), style), style))]


def environments_block(envs: Sequence[Tuple[str, NewList]], column: int, style: Style) -> List[str]:
    """A new `py_environments:` key with its environments, at `column`."""
    lines = [f"{pad(column)}py_environments:"]
    for name, new in envs:
        lines.extend(env_lines(name, new, column + style.unit, style))
    return lines


def insert_block_before(tree: Tree, root: PNode, lines: Sequence[str], keys: Sequence[str], style: Style) -> Edit:
    """A new top-level block before the first of `keys` (and its comments), or at the end of the file."""
    source = tree.source
    for key, value in root.pairs:
        if key.is_str and key.value in keys and source.first_on_line(key.start):
            leading = leading_comments_of(tree, Slot(key.value, key, value, root))
            line = source.line_of(leading[0].index if leading else key.start)
            blank = line > 0 and tree.is_blank_line(line - 1)
            at = source.line_start(line)
            return Edit(at, at, joined([*lines, *([""] if blank else [])], style))
    last = source.last_line
    blank_before = [""] if last >= 0 and not tree.is_blank_line(last) else []
    return insert_after_line(tree, max(last, 0), [*blank_before, *lines], style)


def apply(text: str, edits: Sequence[Edit]) -> str:
    """The text with every edit applied; overlapping edits are an `UnsafeEdit`."""
    unique = list(dict.fromkeys(edits))
    ordered = sorted(enumerate(unique), key=lambda pair: (pair[1].start, pair[1].end, pair[0]))
    out, cursor = [], 0
    for _, edit in ordered:
        if edit.start < cursor:
            raise UnsafeEdit(edit.start, "", "two changes of the migration overlap here (text shared through an "
                             "anchor and an alias, or a merge key, that two endpoints or tasks would need to change "
                             "differently)", "write the shared part out in each place that uses it")
        out.append(text[cursor:edit.start])
        out.append(edit.text)
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out)
