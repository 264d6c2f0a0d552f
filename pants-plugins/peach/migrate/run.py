"""Migrating legacy configs (semantics §8): the removed `dependencies:` keys become `py_environments`
and `py_env`, with every file rewritten in place.

`migrate` takes the repo's config files (repo-relative path, bytes) and returns the new bytes of
every file that changes; it never writes. It refuses, with every problem located (a `ConfigError`),
when the configs are wrong in another way (`build_model`'s problems, the removed keys aside), when a
legacy entry is not a valid requirement, would conflict in its new environment or is a framework
package, or when a file cannot be rewritten safely. Before returning, it checks its own work: the
new files pass `build_model`, read the same as before apart from the migrated keys, and every
endpoint and task resolves to the same requirement list as under the old rules.

Each file is loaded once (`files.load_files`) and read once into its physical tree (`_read`); those
values are threaded through the checks, the plan, the rewrite and `verify`. The rooms are listed in
the package's docstring. No Pants imports.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

from peach.config.errors import ConfigError, Problem
from peach.config.merge import ParsedFile, merge
from peach.config.settings import Settings
from peach.migrate.file import rewrite
from peach.migrate.files import FileChange, LoadedFile, MigrationResult, legacy_keys, load_files, parsed_file
from peach.migrate.plan import CodopsPlan, plan_codops
from peach.migrate.read import read_legacy
from peach.migrate.text import detect_style
from peach.migrate.tree import Source, UnsafeEdit, parse_tree, path_at
from peach.migrate.values import FileLegacy
from peach.migrate.verify import BY_HAND, verify

_ODD_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_ANY_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
VALID_REWRITE = ("mappings and lists in block style, or in flow style without comments to take; anchors used only "
                 "by the removed keys")


def migrate(files: Sequence[Tuple[str, bytes]], settings: Settings) -> MigrationResult:
    """The new bytes of every config file the migration changes; raises ConfigError when it cannot."""
    loaded, unparsable = load_files(sorted(files, key=lambda pair: pair[0]))
    if unparsable:
        raise ConfigError(unparsable)  # such a file may hold legacy keys: nothing is written
    legacy = [f for f in loaded if legacy_keys(f.root)]
    if not legacy:
        return MigrationResult(())
    odd = [problem for f in legacy for problem in _odd_line_break(f.path, f.content)]
    if odd:
        raise ConfigError(odd)
    readings = _read(loaded)
    parsed = _check_config(loaded, readings, settings)
    by_codops: Dict[str, List[FileLegacy]] = defaultdict(list)
    for f in readings.values():
        by_codops[f.codops].append(f)
    plans, problems = {}, []
    for codops, group in sorted(by_codops.items()):
        plans[codops], found = plan_codops(codops, group, settings)
        problems.extend(found)
    if problems:
        raise ConfigError(problems)
    changes = _rewrite(loaded, readings, plans)
    verify(loaded, parsed, changes, readings, plans, settings)
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


def _read(files: Sequence[LoadedFile]) -> Dict[str, FileLegacy]:
    """Every file as the migration reads it: its physical tree, built once (None for a file whose top
    level is no mapping, which `build_model` reports)."""
    readings = {}
    for f in files:
        reading = read_legacy(parse_tree(Source.of(f.path, f.content)))
        if reading is not None:
            readings[f.path] = reading
    return readings


def _check_config(files: Sequence[LoadedFile], readings: Dict[str, FileLegacy],
                  settings: Settings) -> Dict[str, ParsedFile]:
    """Every problem of today's configs except the removed keys themselves, and the legacy entries' own;
    without any, every file as validated (for `verify`, which then reads only the changed ones)."""
    removed = {(f.path, lst.line, lst.key) for f in readings.values() for lst in f.legacy_lists}
    parsed = {f.path: parsed_file(f) for f in files}
    problems: List[Problem] = []
    try:
        merge(list(parsed.values()), settings)
    except ConfigError as e:
        problems.extend(p for p in e.problems if (p.path, p.line, p.key) not in removed)
    for f in readings.values():
        for lst in f.written_lists:
            problems.extend(lst.problems)
    if problems:
        raise ConfigError(problems)
    return parsed


def _rewrite(files: Sequence[LoadedFile], readings: Dict[str, FileLegacy],
             plans: Dict[str, CodopsPlan]) -> Tuple[FileChange, ...]:
    changes, problems = [], []
    for loaded in files:
        path, content = loaded.path, loaded.content
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
