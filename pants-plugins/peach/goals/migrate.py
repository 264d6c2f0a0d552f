"""`pants peach-migrate ::`: rewrite legacy configs (the removed inline `dependencies:` keys) into
`py_environments` + `py_env`, as semantics section 8 says.

Legacy configs make every command that loads the peach targets fail, so this goal loads no
target: it reads the config files below the directories the command line names (`::` for the whole
repository) directly, but for `[peach-migrate].ignore_paths`. The migration itself is plain Python
(`peach.migrate`).
"""
from __future__ import annotations

import posixpath
from typing import List

from pants.base.specs import Specs
from pants.engine.console import Console
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    PathGlobs,
    Workspace,
)
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, collect_rules, goal_rule
from pants.option.option_types import BoolOption, StrListOption
from pants.util.docutil import bin_name
from pants.util.strutil import softwrap

from peach.config import ConfigError, is_config_path
from peach.config.model import CONFIG_NAMES
from peach.migrate import migrate
from peach.read_configs import PeachSettings


class PeachMigrateSubsystem(GoalSubsystem):
    name = "peach-migrate"
    help = softwrap(
        """
        Rewrite every legacy peach config below the given directories (`::` for all):
        the removed inline `dependencies:` lists (top level, on the `endpoints:`/`tasks:` blocks, on
        an endpoint, a component or a task) become `py_environments` entries selected with `py_env`,
        so that every endpoint and task keeps exactly its requirement list. Files are rewritten in
        place, keeping comments and the formatting of untouched lines; what changed is printed per
        file. When the legacy lists conflict, nothing is written and the error says what to fix.
        """
    )
    check = BoolOption(
        default=False,
        help="Print what would change and write nothing; exit 1 if something would change (for CI).",
    )
    ignore_paths = StrListOption(
        default=[],
        help="Globs (relative to the build root) of config files to leave alone, e.g. test data.",
    )


def config_globs(specs: Specs, ignore: List[str]) -> PathGlobs:
    """The peach config files below the directories (or the files) the command line names."""
    includes = specs.includes
    globs: List[str] = []
    for spec in includes.recursive_globs:
        globs.extend(posixpath.join(spec.directory, "**", name) for name in CONFIG_NAMES)
    for spec in (*includes.dir_globs, *includes.dir_literals):
        globs.extend(posixpath.join(spec.directory, name) for name in CONFIG_NAMES)
    globs.extend(spec.file for spec in includes.file_literals if is_config_path(spec.file))
    return PathGlobs([*globs, *(f"!{i}" for i in ignore)])


class PeachMigrate(Goal):
    subsystem_cls = PeachMigrateSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def peach_migrate(
    specs: Specs, console: Console, workspace: Workspace, subsystem: PeachMigrateSubsystem, settings: PeachSettings
) -> PeachMigrate:
    contents = await Get(DigestContents, PathGlobs, config_globs(specs, subsystem.ignore_paths))
    files = sorted((fc.path, fc.content) for fc in contents if is_config_path(fc.path))
    if not files:
        console.print_stderr("peach-migrate: no peach config file below the given directories; try `::`.")
        return PeachMigrate(exit_code=1)
    try:
        result = migrate(files, settings.settings)
    except ConfigError as e:
        console.print_stderr(f"peach-migrate: nothing was written.\n\n{e}")
        return PeachMigrate(exit_code=1)
    if not result.changes:
        console.print_stdout("peach-migrate: no legacy config: nothing to change.")
        return PeachMigrate(exit_code=0)
    verb = "would rewrite" if subsystem.check else "rewrote"
    for change in result.changes:
        console.print_stdout(f"{change.path}: {verb}")
        for line in change.summary:
            console.print_stdout(f"  {line}")
    if subsystem.check:
        console.print_stderr(f"peach-migrate --check: {len(result.changes)} file(s) would change; "
                             f"run `{bin_name()} peach-migrate ::` to rewrite them.")
        return PeachMigrate(exit_code=1)
    digest = await Get(Digest, CreateDigest([FileContent(c.path, c.new) for c in result.changes]))
    workspace.write_digest(digest)
    return PeachMigrate(exit_code=0)


def rules():
    return collect_rules()
