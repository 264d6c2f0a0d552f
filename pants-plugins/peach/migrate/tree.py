"""The physical YAML of a config file, for the migration: every node with its exact character span.

`yamlload` gives values with their line and column, merged and with aliases expanded: right for
validation, not enough to rewrite a file in place. The migration needs where each node's text
starts and ends, which text is a comment, and which node an alias or a merge key (`<<: *x`) points
at, so this module builds its own tree from PyYAML's events (which carry exact marks):

- `Source`: the text of one file (its BOM and line ending noted) with line arithmetic;
- `PNode`: one node as written (an alias is its own node, pointing at its anchored target);
- `slots`: the keys of a mapping as YAML reads them (merge keys applied, written keys winning),
  each with the physical mapping that holds it;
- `comments_in`: the comments in a stretch of text that holds no YAML content.

The file is validated with `yamlload` first, so the YAML here is known to be well formed.
No Pants imports.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum
from typing import Iterator, List, Optional, Tuple

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"


class UnsafeEdit(Exception):
    """The file cannot be rewritten safely at `index`; `what` and `fix` say why and what to do by hand."""

    def __init__(self, index: int, key: str, what: str, fix: str) -> None:
        super().__init__(what)
        self.index = index
        self.key = key
        self.what = what
        self.fix = fix


@dataclass(frozen=True)
class Source:
    """The text of one config file: no BOM, the line ending it uses, line arithmetic (0-based lines)."""

    path: str
    text: str
    bom: bool
    nl: str
    starts: Tuple[int, ...]

    @staticmethod
    def of(path: str, content: bytes) -> "Source":
        text = content.decode("utf-8")
        bom = text.startswith("\ufeff")
        if bom:
            text = text[1:]
        first = text.find("\n")
        nl = "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        return Source(path, text, bom, nl, tuple(starts))

    def encode(self, text: str) -> bytes:
        return (("\ufeff" if self.bom else "") + text).encode("utf-8")

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def lineno(self, index: int) -> int:
        """The 1-based line, as messages show it."""
        return self.line_of(index) + 1

    def line_start(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def line_end(self, line: int) -> int:
        """The index after the line's content (before its line break)."""
        end = self.line_start(line + 1) if line + 1 < len(self.starts) else len(self.text)
        while end > self.line_start(line) and self.text[end - 1] in "\r\n":
            end -= 1
        return end

    def next_line(self, line: int) -> int:
        """The index where the next line starts (the end of the text for the last line)."""
        return self.line_start(line + 1) if line + 1 < len(self.starts) else len(self.text)

    def line_text(self, line: int) -> str:
        return self.text[self.line_start(line):self.line_end(line)]

    def column(self, index: int) -> int:
        return index - self.line_start(self.line_of(index))

    def first_on_line(self, index: int) -> bool:
        return not self.text[self.line_start(self.line_of(index)):index].strip()

    def is_blank(self, line: int) -> bool:
        return 0 <= line < len(self.starts) and not self.line_text(line).strip()

    @property
    def last_line(self) -> int:
        """The last line that holds text (a final line break does not start a line)."""
        last = len(self.starts) - 1
        return last - 1 if last > 0 and self.line_start(last) == len(self.text) else last


class NodeKind(Enum):
    SCALAR = "scalar"
    SEQ = "seq"
    MAP = "map"
    ALIAS = "alias"


BLOCK_SCALAR_STYLES = ("|", ">")  # PyYAML's styles of literal and folded scalars


@dataclass(frozen=True, eq=False)
class PNode:
    """One YAML node as written. `end` is where its content ends (trailing blank lines excluded)."""

    kind: NodeKind
    start: int  # includes an anchor or tag written before the node
    end: int
    anchor: Optional[str] = None
    tag: str = ""  # a scalar's resolved tag
    value: str = ""  # a scalar's text as YAML reads it; an alias's anchor name
    style: Optional[str] = None  # a scalar's style: None (plain), "'", '"', "|" or ">"
    flow: bool = False  # a collection in flow style (`[a, b]`, `{a: 1}`)
    items: Tuple["PNode", ...] = ()
    pairs: Tuple[Tuple["PNode", "PNode"], ...] = ()
    target: Optional["PNode"] = None  # what an alias points at

    @property
    def is_str(self) -> bool:
        return self.kind is NodeKind.SCALAR and self.tag == STR_TAG

    @property
    def is_null(self) -> bool:
        return self.kind is NodeKind.SCALAR and self.tag == NULL_TAG

    @property
    def is_block_scalar(self) -> bool:
        """A literal (`|`) or folded (`>`) scalar, which spans lines of its own."""
        return self.kind is NodeKind.SCALAR and self.style in BLOCK_SCALAR_STYLES


def deref(node: PNode) -> PNode:
    while node.kind is NodeKind.ALIAS and node.target is not None:
        node = node.target
    return node


_RESOLVER = yaml.SafeLoader("")


class _Builder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.anchors: dict = {}
        self.spans: List[Tuple[int, int]] = []  # every scalar's and alias's span, for `in_scalar`

    def node(self, event, events: Iterator) -> PNode:
        start, raw_end = event.start_mark.index, event.end_mark.index
        if isinstance(event, AliasEvent):
            self.spans.append((start, raw_end))
            return PNode(NodeKind.ALIAS, start, raw_end, value=event.anchor, target=self.anchors.get(event.anchor))
        if isinstance(event, ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)
            end = raw_end
            while end > start and self.text[end - 1] in " \t\r\n":
                end -= 1
            self.spans.append((start, raw_end))
            node = PNode(NodeKind.SCALAR, start, end, event.anchor, tag, event.value, event.style)
        elif isinstance(event, SequenceStartEvent):
            items = []
            for child in events:
                if isinstance(child, SequenceEndEvent):
                    break
                items.append(self.node(child, events))
            flow = bool(event.flow_style)
            end = child.end_mark.index if flow else (items[-1].end if items else start)
            node = PNode(NodeKind.SEQ, start, end, event.anchor, flow=flow, items=tuple(items))
        elif isinstance(event, MappingStartEvent):
            pairs = []
            for child in events:
                if isinstance(child, MappingEndEvent):
                    break
                key = self.node(child, events)
                pairs.append((key, self.node(next(events), events)))
            flow = bool(event.flow_style)
            end = child.end_mark.index if flow else (pairs[-1][1].end if pairs else start)
            node = PNode(NodeKind.MAP, start, end, event.anchor, flow=flow, pairs=tuple(pairs))
        else:  # pragma: no cover - the events of one well-formed document
            raise ValueError(f"unexpected YAML event {type(event).__name__}")
        if event.anchor:
            self.anchors[event.anchor] = node
        return node


@dataclass(frozen=True)
class Tree:
    """A parsed file: its root node, the spans of its scalars, its anchors and aliases."""

    source: Source
    root: Optional[PNode]
    scalar_spans: Tuple[Tuple[int, int], ...]

    def in_scalar(self, index: int) -> bool:
        """Whether `index` lies inside a scalar's (or alias') text: a `#` there is no comment."""
        at = bisect.bisect_right(self.scalar_spans, (index, float("inf"))) - 1
        return at >= 0 and self.scalar_spans[at][0] <= index < self.scalar_spans[at][1]

    def is_comment_line(self, line: int) -> bool:
        text = self.source.line_text(line)
        stripped = text.lstrip()
        return stripped.startswith("#") and not self.in_scalar(self.source.line_start(line) + len(text) - len(stripped))

    def is_blank_line(self, line: int) -> bool:
        return self.source.is_blank(line) and not self.in_scalar(self.source.line_start(line))


def parse_tree(source: Source) -> Tree:
    builder = _Builder(source.text)
    events = iter(yaml.parse(source.text, Loader=yaml.SafeLoader))
    root = None
    for event in events:
        if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent, AliasEvent)):
            root = builder.node(event, events)
    return Tree(source, root, tuple(sorted(builder.spans)))


def anchors_and_aliases(tree: Tree) -> Tuple[Tuple[str, int], Tuple[Tuple[str, int], ...]]:
    """Every anchor definition (name, index) and every alias use (name, index) of the file."""
    anchors, aliases = [], []

    def walk(node: PNode) -> None:
        if node.kind is NodeKind.ALIAS:
            aliases.append((node.value, node.start))
            return
        if node.anchor:
            anchors.append((node.anchor, node.start))
        for item in node.items:
            walk(item)
        for key, value in node.pairs:
            walk(key)
            walk(value)

    if tree.root is not None:
        walk(tree.root)
    return tuple(anchors), tuple(aliases)


def path_at(tree: Tree, index: int) -> str:
    """The dotted key path (`py_environments.ml.dependencies[0]`) of the innermost node written at `index`."""
    best = ""

    def walk(node: PNode, path: str) -> None:
        nonlocal best
        if not node.start <= index <= max(node.end, node.start):
            return
        best = path
        for position, item in enumerate(node.items):
            walk(item, f"{path}[{position}]")
        for key, value in node.pairs:
            name = str(key.value)
            child = f"{path}.{name}" if path else name
            if key.start <= index <= key.end:
                best = child
            walk(value, child)

    if tree.root is not None:
        walk(tree.root, "")
    return best


# ---------------------------------------------------------------------------------------------
# Mappings as YAML reads them
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Slot:
    """One key of a mapping as YAML reads it: the pair that provides it, and the mapping holding it."""

    key: object  # the key's value: a str for string keys, (tag, text) otherwise
    key_node: PNode
    value: PNode  # as written (an alias stays an alias)
    holder: PNode  # the physical mapping holding the pair (not the merging one, for a merged key)

    @property
    def node(self) -> PNode:
        return deref(self.value)


def key_of(node: PNode) -> object:
    return node.value if node.is_str else (node.tag, node.value)


def slots(mapping: PNode) -> Tuple[Slot, ...]:
    """The keys of a mapping in `yamlload`'s order: merged keys not written here, then the written ones."""
    merged: dict = {}
    own: dict = {}
    for key, value in mapping.pairs:
        if key.kind is NodeKind.SCALAR and key.tag == MERGE_TAG:
            for source in _merge_sources(value):
                for slot in slots(source):
                    merged.setdefault(slot.key, slot)
            continue
        own[key_of(key)] = Slot(key_of(key), key, value, mapping)
    return tuple([slot for k, slot in merged.items() if k not in own] + list(own.values()))


def slot(mapping: PNode, key: str) -> Optional[Slot]:
    return next((s for s in slots(mapping) if s.key == key), None)


def _merge_sources(value: PNode) -> Tuple[PNode, ...]:
    node = deref(value)
    if node.kind is NodeKind.MAP:
        return (node,)
    if node.kind is NodeKind.SEQ:
        return tuple(deref(item) for item in node.items if deref(item).kind is NodeKind.MAP)
    return ()


# ---------------------------------------------------------------------------------------------
# Comments
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comment:
    index: int  # of the `#`
    text: str  # from `#` to the end of the line, trailing spaces dropped
    own_line: bool  # nothing but spaces before it on its line
    gap: str  # the spaces before the `#` (for a comment after content)


def comments_in(source: Source, start: int, end: int) -> Tuple[Comment, ...]:
    """The comments in `[start, end)`, a stretch of text known to hold no scalar."""
    found = []
    index = source.text.find("#", start, end)
    while index != -1:
        line = source.line_of(index)
        before = source.text[source.line_start(line):index]
        gap = before[len(before.rstrip()):]
        found.append(Comment(index, source.text[index:source.line_end(line)].rstrip(), not before.strip(), gap))
        index = source.text.find("#", source.line_end(line), end)
    return tuple(found)


def leading_comments_of(tree: Tree, entry: Slot) -> Tuple[Comment, ...]:
    """Own-line comments right above a block key, at its indentation: they describe it and move with it."""
    source, key = tree.source, entry.key_node
    if entry.holder.flow or not source.first_on_line(key.start):
        return ()
    column, line, found = source.column(key.start), source.line_of(key.start) - 1, []
    while line >= 0 and tree.is_comment_line(line) and source.line_text(line).index("#") == column:
        found.append(Comment(source.line_start(line) + column, source.line_text(line).strip(), True, ""))
        line -= 1
    return tuple(reversed(found))


def trailing_comments_of(tree: Tree, entry: Slot) -> Tuple[Comment, ...]:
    """Own-line comments after a block key's value, indented deeper than the key: part of the value."""
    source, key = tree.source, entry.key_node
    if entry.holder.flow:
        return ()
    column, found = source.column(key.start), []
    line = source.line_of(entry.value.end) + 1
    while line <= source.last_line and (tree.is_blank_line(line) or tree.is_comment_line(line)):
        if tree.is_comment_line(line):
            text = source.line_text(line)
            if len(text) - len(text.lstrip()) <= column:
                break
            found.append(Comment(source.line_start(line) + text.index("#"), text.strip(), True, ""))
        line += 1
    return tuple(found)
