"""Migrating legacy configs (semantics §8): the removed `dependencies:` keys become `py_environments`
and `py_env`, with every file rewritten in place.

`migrate` takes the repo's config files (repo-relative path, bytes) and returns the new bytes of
every file that changes; it never writes. It refuses, with every problem located (a `ConfigError`),
when the configs are wrong in another way (`build_model`'s problems, the removed keys aside), when a
legacy entry is not a valid requirement, would conflict in its new environment or is a framework
package, or when a file cannot be rewritten safely. Before returning, it checks its own work: the
new files pass `build_model`, read the same as before apart from the migrated keys, and every
endpoint and task resolves to the same requirement list as under the old rules.

The rooms are listed in the package's docstring. No Pants imports.
"""
from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from peach.config.errors import ConfigError, Problem, shorten
from peach.config.merge import build_model
from peach.migrate.file import rewrite
from peach.migrate.plan import CodopsPlan, legacy_requirements, plan_codops
from peach.migrate.read import read_legacy
from peach.migrate.values import BLOCKS, FileLegacy, MemberKind
from peach.migrate.text import detect_style
from peach.migrate.tree import Source, UnsafeEdit, parse_tree, path_at
from peach.config.model import BASE, REMOVED_KEY, TOP_KEYS, Model
from peach.config.settings import Settings
from peach.config.yamlload import YamlLoadError, YMap, YNode, YScalar, YSeq, load_yaml

BY_HAND = "migrate this file by hand: `pants list ::` shows the fix for every removed `dependencies` key"
_ODD_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_ANY_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
VALID_REWRITE = ("mappings and lists in block style, or in flow style without comments to take; anchors used only "
                 "by the removed keys")
ENDPOINTS = MemberKind.ENDPOINT.block
VALID_RESULT = "the same configuration apart from the removed keys, resolving to the same requirement lists"


@dataclass(frozen=True)
class FileChange:
    path: str
    old: bytes
    new: bytes
    summary: Tuple[str, ...]  # what changed in this file, one line each


@dataclass(frozen=True)
class MigrationResult:
    changes: Tuple[FileChange, ...]  # only the files whose bytes change


def is_legacy(path: str, content: bytes) -> bool:
    """Whether the file has a removed `dependencies:` key (top level, a block, an endpoint, a component
    or a task). A file that does not parse has none that can be seen."""
    try:
        root = load_yaml(path, content)
    except YamlLoadError:
        return False
    return bool(legacy_keys(root))


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
            components = entry.get("components") if block == ENDPOINTS else None
            for name, component in components.items() if isinstance(components, YMap) else ():
                if isinstance(component, YMap) and component.key_node(REMOVED_KEY) is not None:
                    found.append(f"{block}.{key.value}.components.{name.value}.{REMOVED_KEY}")
    return found


def migrate(files: Sequence[Tuple[str, bytes]], settings: Settings) -> MigrationResult:
    """The new bytes of every config file the migration changes; raises ConfigError when it cannot."""
    files = sorted(files, key=lambda pair: pair[0])
    unparsable = _unparsable(files)
    if unparsable:
        raise ConfigError(unparsable)  # such a file may hold legacy keys: nothing is written
    legacy = [(path, content) for path, content in files if is_legacy(path, content)]
    if not legacy:
        return MigrationResult(())
    odd = [problem for path, content in legacy for problem in _odd_line_break(path, content)]
    if odd:
        raise ConfigError(odd)
    readings = _read(files)
    _check_config(files, readings, settings)
    by_codops: Dict[str, List[FileLegacy]] = defaultdict(list)
    for f in readings.values():
        by_codops[f.codops].append(f)
    plans, problems = {}, []
    for codops, group in sorted(by_codops.items()):
        plans[codops], found = plan_codops(codops, group, settings)
        problems.extend(found)
    if problems:
        raise ConfigError(problems)
    changes = _rewrite(files, readings, plans)
    _verify(files, changes, readings, plans, settings)
    return MigrationResult(changes)


def _odd_line_break(path: str, content: bytes) -> List[Problem]:
    text = content.decode("utf-8")
    odd = _ODD_BREAK.search(text)
    if odd is None:
        return []
    line = len(_ANY_BREAK.findall(text, 0, odd.start())) + 1
    return [Problem(path, line, "", f"the file has a line break the migration does not rewrite (U+{ord(odd.group()):04X}: "
                    "a lone carriage return, NEL or a Unicode line separator)", "lines ending in `\\n` or `\\r\\n`",
                    "save the file with `\\n` (or `\\r\\n`) line endings, then run the migration again")]


def _unparsable(files: Sequence[Tuple[str, bytes]]) -> List[Problem]:
    problems = []
    for path, content in files:
        try:
            load_yaml(path, content)
        except YamlLoadError as e:
            problems.append(e.problem)
    return problems


def _read(files: Sequence[Tuple[str, bytes]]) -> Dict[str, FileLegacy]:
    """Every file that parses, as the migration reads it (`build_model` reports the others)."""
    readings = {}
    for path, content in files:
        try:
            load_yaml(path, content)
        except YamlLoadError:
            continue
        reading = read_legacy(parse_tree(Source.of(path, content)))
        if reading is not None:
            readings[path] = reading
    return readings


def _check_config(files: Sequence[Tuple[str, bytes]], readings: Dict[str, FileLegacy], settings: Settings) -> None:
    """Every problem of today's configs except the removed keys themselves, and the legacy entries' own."""
    removed = {(f.path, lst.line, lst.key) for f in readings.values() for lst in f.legacy_lists}
    problems: List[Problem] = []
    try:
        build_model(files, settings)
    except ConfigError as e:
        problems.extend(p for p in e.problems if (p.path, p.line, p.key) not in removed)
    seen = set()
    for f in readings.values():
        for lst in f.legacy_lists:
            if id(lst.slot.key_node) not in seen:
                seen.add(id(lst.slot.key_node))
                problems.extend(lst.problems)
    if problems:
        raise ConfigError(problems)


def _rewrite(files: Sequence[Tuple[str, bytes]], readings: Dict[str, FileLegacy],
             plans: Dict[str, CodopsPlan]) -> Tuple[FileChange, ...]:
    changes, problems = [], []
    for path, content in files:
        f = readings.get(path)
        plan = plans.get(f.codops) if f is not None else None
        if f is None or plan is None or not (f.legacy_lists or any(e.path == path for e in plan.new_envs)):
            continue
        try:
            edited = rewrite(f, plan, detect_style(f.tree))
        except UnsafeEdit as e:
            problems.append(Problem(path, f.tree.source.lineno(e.index), e.key or path_at(f.tree, e.index),
                                    f"the migration cannot rewrite this safely: {e.what}", VALID_REWRITE,
                                    f"{e.fix}, then run the migration again (or {BY_HAND})"))
            continue
        new = f.tree.source.encode(edited.text)
        if new != content:
            changes.append(FileChange(path, content, new, edited.summary))
    if problems:
        raise ConfigError(problems)
    return tuple(changes)


# ---------------------------------------------------------------------------------------------
# Checking the result
# ---------------------------------------------------------------------------------------------

def _verify(files: Sequence[Tuple[str, bytes]], changes: Sequence[FileChange], readings: Dict[str, FileLegacy],
            plans: Dict[str, CodopsPlan], settings: Settings) -> None:
    new = {change.path: change.new for change in changes}
    migrated = [(path, new.get(path, content)) for path, content in files]
    try:
        model = build_model(migrated, settings)
    except ConfigError as e:
        raise ConfigError([Problem(p.path, 0, p.key, f"the migrated file would not pass validation: {p.what} "
                                   f"(line {p.line} of the migrated text)", VALID_RESULT, BY_HAND) for p in e.problems])
    problems = []
    for change in changes:
        problems.extend(_same_reading(change, readings[change.path], plans[readings[change.path].codops]))
    for plan in plans.values():
        problems.extend(_same_requirements(plan, model, settings))
    if problems:
        raise ConfigError(problems)


def _same_requirements(plan: CodopsPlan, model: Model, settings: Settings) -> List[Problem]:
    codops = model.get(plan.codops)
    problems = []
    for f in plan.files:
        for member in f.members:
            entries = codops.endpoints if member.kind is MemberKind.ENDPOINT else codops.tasks
            entry = next(e for e in entries if e.name == member.name)
            after = codops.environment(entry.environment).requirements
            before = legacy_requirements(plan.files, member, settings)
            if after != before:
                problems.append(Problem(member.path, member.line, member.key,
                                        f"the migration would change what the {member.kind.value} runs with: "
                                        f"{shorten(', '.join(before), 300)} before, {shorten(', '.join(after), 300)} after",
                                        VALID_RESULT, BY_HAND))
    return problems


def _same_reading(change: FileChange, f: FileLegacy, plan: CodopsPlan) -> List[Problem]:
    """The migrated file reads as the old one with the legacy keys moved, and nothing else changed."""
    old = _plain(load_yaml(change.path, change.old))
    new = _plain(load_yaml(change.path, change.new))
    expected = _normal(_project(_expected(old, f, plan)))
    actual = _normal(_project(new))
    if expected == actual:
        return []
    key = next((k for k in TOP_KEYS if expected.get(k) != actual.get(k)), "")
    return [Problem(change.path, 0, key, f"the migration would change `{key}` beyond the migrated keys",
                    VALID_RESULT, BY_HAND)]


def _plain(node: Optional[YNode]) -> object:
    if isinstance(node, YMap):
        return {key.value: _plain(value) for key, value in node.items()}
    if isinstance(node, YSeq):
        return [_plain(item) for item in node.items]
    return node.value if isinstance(node, YScalar) else None


def _project(data: object) -> dict:
    return {k: v for k, v in data.items() if k in TOP_KEYS} if isinstance(data, dict) else {}


def _normal(data: object) -> object:
    """Empty mappings, empty lists and nulls compare equal (`endpoints:` left empty reads as null)."""
    if isinstance(data, dict):
        return {k: _normal(v) for k, v in data.items()} or None
    if isinstance(data, list):
        return [_normal(v) for v in data] or None
    return data


def _expected(old: object, f: FileLegacy, plan: CodopsPlan) -> object:
    data = copy.deepcopy(old)
    if not isinstance(data, dict):
        return data
    top = data.pop(REMOVED_KEY, None)
    names = {(m.block, m.name): plan.env_of(m) for m in f.members}
    for block in BLOCKS:
        mapping = data.get(block)
        if not isinstance(mapping, dict):
            continue
        mapping.pop(REMOVED_KEY, None)
        for name, entry in mapping.items():
            if not isinstance(entry, dict):
                continue
            entry.pop(REMOVED_KEY, None)
            for component in (entry.get("components") or {}).values() if block == ENDPOINTS else ():
                if isinstance(component, dict):
                    component.pop(REMOVED_KEY, None)
            if names.get((block, name)):
                entry["py_env"] = names[(block, name)]
    envs = data.get("py_environments") or {}
    if top:
        base = envs.setdefault(BASE, {"dependencies": []})
        base["dependencies"] = list(base.get("dependencies") or []) + list(top)
    for env in plan.new_envs:
        if env.path == f.path:
            envs[env.name] = {"dependencies": [item.value for item in env.entries.items]}
    if envs:
        data["py_environments"] = envs
    return data
