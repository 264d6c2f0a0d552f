"""Checking the migration's own work before anything is returned: the new files pass validation,
read the same as before apart from the migrated keys, and every endpoint and task resolves to the
same requirement list as under the old rules. No Pants imports.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence

from peach.config.errors import ConfigError, Problem, shorten
from peach.config.merge import ParsedFile, merge, parse_file
from peach.config.model import BASE, REMOVED_KEY, TOP_KEYS, Model
from peach.config.settings import Settings
from peach.config.yamlload import YamlLoadError, YMap, YNode, YScalar, YSeq, load_yaml
from peach.migrate.files import FileChange, LoadedFile, parsed_file
from peach.migrate.plan import CodopsPlan, legacy_requirements
from peach.migrate.values import BLOCKS, FileLegacy, MemberKind

BY_HAND = "migrate this file by hand: `pants list ::` shows the fix for every removed `dependencies` key"
VALID_RESULT = "the same configuration apart from the removed keys, resolving to the same requirement lists"
ENDPOINTS = MemberKind.ENDPOINT.block


def verify(files: Sequence[LoadedFile], parsed: Dict[str, ParsedFile], changes: Sequence[FileChange],
           readings: Dict[str, FileLegacy], plans: Dict[str, CodopsPlan], settings: Settings) -> None:
    """Raise ConfigError unless the migrated configs pass validation, read as the old ones with the
    legacy keys moved, and give every endpoint and task its old requirement list.

    `parsed` holds every file as validated before the migration: the unchanged ones are not read again,
    and each new text is loaded once."""
    by_path = {change.path: change for change in changes}
    new_roots: Dict[str, Optional[YNode]] = {}
    migrated = []
    for f in files:
        change = by_path.get(f.path)
        if change is None:
            migrated.append(parsed[f.path])
            continue
        try:
            new_roots[f.path] = load_yaml(f.path, change.new)
        except YamlLoadError:
            migrated.append(parse_file(f.path, change.new))  # reports the YAML error as `build_model` does
            continue
        migrated.append(parsed_file(LoadedFile(f.path, change.new, new_roots[f.path])))
    try:
        model = merge(migrated, settings)
    except ConfigError as e:
        raise ConfigError([Problem(p.path, 0, p.key, f"the migrated file would not pass validation: {p.what} "
                                   f"(line {p.line} of the migrated text)", VALID_RESULT, BY_HAND) for p in e.problems])
    old_roots = {f.path: f.root for f in files}
    problems = []
    for change in changes:
        f = readings[change.path]
        problems.extend(_same_reading(change.path, old_roots[change.path], new_roots[change.path], f, plans[f.codops]))
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


def _same_reading(path: str, old_root: Optional[YNode], new_root: Optional[YNode], f: FileLegacy,
                  plan: CodopsPlan) -> List[Problem]:
    """The migrated file reads as the old one with the legacy keys moved, and nothing else changed."""
    old = _plain(old_root)
    new = _plain(new_root)
    expected = _normal(_project(_expected(old, f, plan)))
    actual = _normal(_project(new))
    if expected == actual:
        return []
    key = next((k for k in TOP_KEYS if expected.get(k) != actual.get(k)), "")
    return [Problem(path, 0, key, f"the migration would change `{key}` beyond the migrated keys",
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
