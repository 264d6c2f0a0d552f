"""`pants tailor`: a `peach_config` target for peach config files that no `peach_config` owns.

The target is always named `peach` (`//:peach#<codops>/<env>` at the root, `dir:peach#...` elsewhere);
files that an existing `peach_config` owns are left to it, whatever its name.

Unowned config files are grouped by the directory that holds their `peach.conf/` (or `peach.yaml`);
a directory below another such directory is covered by the upper one's target, whose default
sources read every config file below it. One codops' files belong in one `peach_config` (usually
the one at the repository root), since each `peach_config` merges only the files it owns.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, List

from pants.core.goals.tailor import (
    AllOwnedSources,
    PutativeTarget,
    PutativeTargets,
    PutativeTargetsRequest,
)
from pants.engine.fs import PathGlobs, Paths
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from peach.config.model import CONFIG_EXTENSIONS, CONFIG_FILE, config_base_dir, is_config_path
from peach.target_types import PeachConfigTarget


@dataclass(frozen=True)
class PutativePeachConfigRequest(PutativeTargetsRequest):
    pass


def group_unowned(paths: List[str]) -> Dict[str, List[str]]:
    """Config files by the top-most config directory that covers them."""
    by_dir: Dict[str, List[str]] = {}
    for path in sorted(paths):
        by_dir.setdefault(config_base_dir(path), []).append(path)
    tops: Dict[str, List[str]] = {}
    for directory in sorted(by_dir, key=lambda d: (d.count("/"), d)):
        owner = next((t for t in tops if t == "" or directory == t or directory.startswith(t + "/")), None)
        tops.setdefault(directory if owner is None else owner, []).extend(by_dir[directory])
    return tops


@rule(desc="Find peach config files that no peach_config owns", level=LogLevel.DEBUG)
async def find_putative_peach_configs(request: PutativePeachConfigRequest, owned: AllOwnedSources) -> PutativeTargets:
    found = await Get(Paths, PathGlobs, request.path_globs(CONFIG_FILE, *(f"*{ext}" for ext in CONFIG_EXTENSIONS)))
    unowned = [p for p in found.files if is_config_path(p) and p not in owned]
    targets = []
    for directory, files in group_unowned(unowned).items():
        targets.append(PutativeTarget.for_target_type(
            PeachConfigTarget,
            path=directory,
            name="peach",
            triggering_sources=[posixpath.relpath(f, directory or ".") for f in files],
            # Explicit, so Pants does not rename a target of the root BUILD file to `root`: the
            # addresses peach prints and documents are `//:peach#<codops>/...`.
            kwargs={"name": "peach"},
        ))
    return PutativeTargets(targets)


def rules():
    return [*collect_rules(), UnionRule(PutativeTargetsRequest, PutativePeachConfigRequest)]
