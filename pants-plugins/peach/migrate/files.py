"""The config files the migration reads and writes: each loaded once, and what changes in it.

`load_files` runs `yamlload` once per file; the loaded root then serves every use that needs the
values as peach reads them: finding the removed keys (`legacy_keys`), validating (`parsed_file`
gives `peach.config.merge` the file as `parse_file` would read it), and comparing the old and new
readings. The physical tree with exact spans (`tree.parse_tree`) is the migration's other view of
a file, built once too (`run`). No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from peach.config.errors import Problem, ProblemCollector
from peach.config.merge import ParsedFile
from peach.config.model import REMOVED_KEY
from peach.config.reader import FileReader
from peach.config.yamlload import YamlLoadError, YMap, YNode, load_yaml
from peach.migrate.values import BLOCKS, MemberKind


@dataclass(frozen=True)
class LoadedFile:
    """A config file and its YAML as `yamlload` reads it (None for an empty document)."""

    path: str
    content: bytes
    root: Optional[YNode]


@dataclass(frozen=True)
class FileChange:
    path: str
    old: bytes
    new: bytes
    summary: Tuple[str, ...]  # what changed in this file, one line each


@dataclass(frozen=True)
class MigrationResult:
    changes: Tuple[FileChange, ...]  # only the files whose bytes change


def load_files(files: Sequence[Tuple[str, bytes]]) -> Tuple[Tuple[LoadedFile, ...], Tuple[Problem, ...]]:
    """Every file that loads, and the problem of every file that does not."""
    loaded: List[LoadedFile] = []
    problems: List[Problem] = []
    for path, content in files:
        try:
            loaded.append(LoadedFile(path, content, load_yaml(path, content)))
        except YamlLoadError as e:
            problems.append(e.problem)
    return tuple(loaded), tuple(problems)


def parsed_file(f: LoadedFile) -> ParsedFile:
    """The file validated as `peach.config.merge.parse_file` reads it, from its loaded root."""
    problems = ProblemCollector()
    config = FileReader(f.path, problems).read(f.root)
    return ParsedFile(f.path, config, tuple(problems.problems))


def legacy_keys(root: Optional[YNode]) -> List[str]:
    """The key paths of the removed `dependencies` keys of a file, as `yamlload` reads it."""
    if not isinstance(root, YMap):
        return []
    found = [REMOVED_KEY] if root.key_node(REMOVED_KEY) is not None else []
    for block in BLOCKS:
        mapping = root.get(block)
        if not isinstance(mapping, YMap):
            continue
        if mapping.key_node(REMOVED_KEY) is not None:
            found.append(f"{block}.{REMOVED_KEY}")
        for key, entry in mapping.items():
            if key.value == REMOVED_KEY or not isinstance(entry, YMap):
                continue
            if entry.key_node(REMOVED_KEY) is not None:
                found.append(f"{block}.{key.value}.{REMOVED_KEY}")
            components = entry.get("components") if block == MemberKind.ENDPOINT.block else None
            for name, component in components.items() if isinstance(components, YMap) else ():
                if isinstance(component, YMap) and component.key_node(REMOVED_KEY) is not None:
                    found.append(f"{block}.{key.value}.components.{name.value}.{REMOVED_KEY}")
    return found
