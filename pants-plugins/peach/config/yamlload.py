"""A YAML loader for peach configs that keeps line numbers and rejects what PyYAML lets slip.

PyYAML silently keeps the last of two equal keys in a mapping; a config that says `py_env` twice
must not be read that way. So this loader composes the node graph and builds its own immutable
tree (`YMap`, `YSeq`, `YScalar`), each node carrying its 1-based line and column:

- duplicate keys in one mapping are an error naming both lines;
- merge keys (`<<: *anchor`) work; keys written in the mapping override merged ones;
- aliases are expanded, within a budget, so an alias bomb is an error and not a hang;
- deep nesting is an error, not a RecursionError;
- bytes that are not UTF-8 and malformed YAML are errors with `file:line:column`.

No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional, Tuple, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from peach.config.errors import Problem, shorten

MAX_DEPTH = 64
MAX_NODES = 200_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class YScalar:
    value: object
    line: int
    column: int
    text: Optional[str] = field(default=None, compare=False)  # the scalar as written (`3.10`, not 3.1)


@dataclass(frozen=True)
class YSeq:
    items: Tuple["YNode", ...]
    line: int
    column: int


@dataclass(frozen=True)
class YMap:
    entries: Tuple[Tuple[YScalar, "YNode"], ...]
    line: int
    column: int

    def get(self, key: str) -> Optional["YNode"]:
        for key_node, value in self.entries:
            if key_node.value == key:
                return value
        return None

    def key_node(self, key: str) -> Optional[YScalar]:
        for key_node, _ in self.entries:
            if key_node.value == key:
                return key_node
        return None

    def items(self) -> Iterator[Tuple[YScalar, "YNode"]]:
        return iter(self.entries)


YNode = Union[YScalar, YSeq, YMap]


def type_name(node: YNode) -> str:
    """How a value's type is named in error messages."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    value = node.value
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({node.text if node.text is not None else value})"
    if isinstance(value, str):
        return f"a string ('{shorten(value, 40)}')"
    if node.text:  # a date, a timestamp, binary data
        return f"a {type(value).__name__} ({shorten(node.text, 40)})"
    return f"a {type(value).__name__}"


class YamlLoadError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


# libyaml's loader composes about ten times faster than the pure-Python one. It reads every valid
# config the same way; for anything it rejects (or that `_convert` rejects) the pure loader runs
# again, so that error messages are the pure loader's, word for word.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_FAILED = object()


def load_yaml(path: str, content: bytes) -> Optional[YNode]:
    """Parse one YAML document. Returns None for an empty document; raises YamlLoadError."""
    text = _decode(path, content)
    if _FAST_LOADER is not None and not _NON_PRINTABLE.search(text):
        fast = _load_fast(path, text)
        if fast is not _FAILED:
            return fast  # type: ignore[return-value]
    return _load_pure(path, text)


def _load_fast(path: str, text: str) -> object:
    loader = _FAST_LOADER(text)  # type: ignore[misc]
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return _convert(path, loader, root, depth=0, budget=_Budget(), keypath="")
    except (yaml.YAMLError, YamlLoadError, RecursionError):
        return _FAILED
    finally:
        loader.dispose()


def _load_pure(path: str, text: str) -> Optional[YNode]:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, other control characters)
        raise YamlLoadError(_reader_problem(path, text, e))
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:
            raise YamlLoadError(
                Problem(
                    path,
                    0,
                    "",
                    f"the YAML is nested too deeply to be a peach config (more than {MAX_DEPTH} levels)",
                    fix="flatten the file: a peach config is at most a few levels deep",
                )
            )
        except yaml.MarkedYAMLError as e:
            raise YamlLoadError(_yaml_problem(path, e))
        except yaml.reader.ReaderError as e:  # pragma: no cover - raised when the loader is created
            raise YamlLoadError(_reader_problem(path, text, e))
        except yaml.YAMLError as e:  # pragma: no cover - PyYAML raises marked errors for documents
            raise YamlLoadError(Problem(path, 0, "", f"invalid YAML: {shorten(str(e), 200)}"))
        if root is None:
            return None
        return _convert(path, loader, root, depth=0, budget=_Budget(), keypath="")
    finally:
        loader.dispose()


def _decode(path: str, content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        column = e.start - (content.rfind(b"\n", 0, e.start) + 1) + 1
        raise YamlLoadError(
            Problem(
                path,
                line,
                "",
                f"the file is not valid UTF-8 (byte 0x{content[e.start]:02x} cannot be decoded)",
                fix="save the file as UTF-8",
                column=column,
            )
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _reader_problem(path: str, text: str, e: yaml.reader.ReaderError) -> Problem:
    position = e.position if isinstance(e.position, int) and 0 <= e.position <= len(text) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    control = e.character < 0x20 or 0x7F <= e.character <= 0x9F
    kind = "a control character, invisible in most editors" if control else "not a printable character"
    return Problem(
        path,
        line,
        "",
        f"the file contains the character U+{e.character:04X}, which YAML does not allow ({kind})",
        fix="delete the character: save the file as plain UTF-8 text",
        column=column,
    )


def _yaml_problem(path: str, e: yaml.MarkedYAMLError) -> Problem:
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark else 0
    column = mark.column + 1 if mark else 0
    parts = [p for p in (e.context, e.problem) if p]
    what = "invalid YAML: " + "; ".join(parts)
    if e.context_mark is not None and e.problem_mark is not None and e.context:
        what += f" (the construct started at line {e.context_mark.line + 1})"
    fix = "correct the YAML syntax at that position"
    if e.problem and "'\\t'" in e.problem:
        fix = "YAML does not allow tab characters for indentation: indent with spaces"
    elif e.problem and "mapping values are not allowed here" in e.problem:
        fix = ("write a space after the colon of every `key: value`, and quote a value that contains `: `; "
               "check this line and the one above it")
    elif "expected a single document" in what:
        fix = "a peach config holds one YAML document: remove the `---` separator or split the file"
    return Problem(path, line, "", what, fix=fix, column=column)


def _convert(path: str, loader: yaml.SafeLoader, node: Node, depth: int, budget: _Budget, keypath: str) -> YNode:
    """`keypath` is the dotted key path of `node` (`py_environments.ml`), empty for the document itself."""
    budget.nodes += 1
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if budget.nodes > MAX_NODES:
        raise YamlLoadError(
            Problem(
                path,
                line,
                "",
                f"the YAML expands to more than {MAX_NODES} values (aliases that expand "
                "exponentially, an 'alias bomb'?)",
                fix="write the values out or use fewer nested aliases",
                column=column,
            )
        )
    if depth > MAX_DEPTH:
        raise YamlLoadError(
            Problem(
                path,
                line,
                "",
                f"the YAML is nested too deeply to be a peach config (more than {MAX_DEPTH} levels)",
                fix="flatten the file: a peach config is at most a few levels deep",
                column=column,
            )
        )
    if isinstance(node, ScalarNode):
        if node.tag == _STR_TAG:  # what the constructor would return, without its bookkeeping
            return YScalar(node.value, line, column, node.value)
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            raise YamlLoadError(_yaml_problem(path, e))
        except ValueError as e:  # e.g. a timestamp that is out of range
            where = f" (`{keypath}`)" if keypath else ""
            raise YamlLoadError(
                Problem(path, line, "", f"invalid YAML value `{shorten(node.value, 60)}`{where}: {shorten(str(e))}",
                        fix=f"quote the value, `'{shorten(node.value, 60)}'`: unquoted, YAML reads it as a date "
                        "or a number", column=column)
            )
        return YScalar(value, line, column, node.value)
    if isinstance(node, SequenceNode):
        return YSeq(
            tuple(_convert(path, loader, item, depth + 1, budget, f"{keypath}[{index}]")
                  for index, item in enumerate(node.value)),
            line,
            column,
        )
    if isinstance(node, MappingNode):
        return _convert_mapping(path, loader, node, depth, budget, keypath)
    raise YamlLoadError(Problem(path, line, "", "unsupported YAML node", column=column))  # pragma: no cover


def _convert_mapping(
    path: str, loader: yaml.SafeLoader, node: MappingNode, depth: int, budget: _Budget, keypath: str
) -> YMap:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    merged: dict = {}
    own: dict = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            for source in _merge_sources(path, value_node, keypath):
                converted = _convert(path, loader, source, depth + 1, budget, keypath)
                assert isinstance(converted, YMap)
                for key, value in converted.entries:
                    merged.setdefault(key.value, (key, value))
            continue
        key = _convert(path, loader, key_node, depth + 1, budget, keypath)
        if not isinstance(key, YScalar):
            raise YamlLoadError(
                Problem(
                    path,
                    key.line,
                    "",
                    f"a mapping key must be a plain value, not {type_name(key)}",
                    fix="use a name as the key",
                    column=key.column,
                )
            )
        try:
            hash(key.value)
        except TypeError:  # pragma: no cover - scalars are hashable
            raise YamlLoadError(Problem(path, key.line, "", "unhashable mapping key", column=key.column))
        if key.value in own:
            first = own[key.value][0]
            where = f"in the mapping `{shorten(keypath, 80)}`" if keypath else "in one mapping"
            raise YamlLoadError(
                Problem(
                    path,
                    key.line,
                    "",
                    f"duplicate key `{shorten(str(key.value), 60)}` {where} "
                    f"(first written at line {first.line}); YAML would silently keep only the last one",
                    fix="write the key once: merge the two entries or delete one",
                    column=key.column,
                )
            )
        name = shorten(str(key.value), 60)
        child = f"{keypath}.{name}" if keypath else name
        own[key.value] = (key, _convert(path, loader, value_node, depth + 1, budget, child))
    entries = [entry for k, entry in merged.items() if k not in own]
    entries.extend(own.values())
    return YMap(tuple(entries), line, column)


def _merge_sources(path: str, value_node: Node, keypath: str) -> Tuple[MappingNode, ...]:
    if isinstance(value_node, MappingNode):
        return (value_node,)
    if isinstance(value_node, SequenceNode) and all(isinstance(n, MappingNode) for n in value_node.value):
        return tuple(value_node.value)
    mark = value_node.start_mark
    raise YamlLoadError(
        Problem(
            path,
            mark.line + 1,
            "",
            "a merge key (`<<`) takes a mapping or a list of mappings, and "
            f"`{shorten(keypath + '.<<' if keypath else '<<', 80)}` merges this value, which is not one",
            fix="merge an anchored mapping: `<<: *name`",
            column=mark.column + 1,
        )
    )
