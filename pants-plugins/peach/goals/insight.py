"""What is in my environment, and why: `peach-show`, `peach-why` and `peach-drift`.

Each locks whatever is not locked yet, through the same cached processes as `package`, and reads
the locks for the image's first platform. The analysis is plain Python (`peach.insight`); each
step is a memoized rule, so a warm daemon answers from memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import List, Tuple

from pants.engine.console import Console
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import AllTargets, Target, Targets
from pants.option.option_types import BoolOption, EnumOption, StrOption
from pants.util.docutil import bin_name
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from peach.config.ids import selects
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.platforms import ImagePlatforms
from peach.environments.project import EnvironmentRequest
from peach.insight.drift import DriftResult, drift, has_drift
from peach.insight.render import (
    render_drift_json,
    render_drift_text,
    render_show_json,
    render_show_text,
    render_why_json,
    render_why_text,
)
from peach.insight.show import ShowResult, show
from peach.insight.view import EnvironmentView
from peach.insight.why import WhyResult, why
from peach.target_types import (
    ProvenanceField,
    environment_id,
    is_py_environment,
    resolve_selectors,
)


class OutputFormat(Enum):
    text = "text"
    json = "json"


_FORMAT_HELP = "`text`: a table for people (the default); `json`: for tools."


class ShowSort(Enum):
    name = "name"
    size = "size"


# ---------------------------------------------------------------------------------------------
# The environments the command line names, seen on the image's platform
# ---------------------------------------------------------------------------------------------


def selected_environments(targets: Targets, all_targets: AllTargets) -> List[Target]:
    """The environments among `targets`; a codops stands for its environments, `_all` for all."""
    environments = {environment_id(t).resolve: t for t in all_targets if is_py_environment(t)}
    prefixes = resolve_selectors(targets)
    chosen = {name for name in environments for p in prefixes if selects(p, name)}
    return [environments[name] for name in sorted(chosen)]


@dataclass(frozen=True)
class ViewRequest:
    request: EnvironmentRequest
    provenance: tuple


@rule(desc="Read a peach environment's lock", level=LogLevel.DEBUG)
async def environment_view(request: ViewRequest, image: ImagePlatforms) -> EnvironmentView:
    locked = await Get(LockedEnvironment, LockEnvironmentRequest(request.request))
    return EnvironmentView(request.request.codops, request.request.environment, locked.project.requirements,
                           request.provenance, locked.lock, image.platforms[0], image.python_version)


async def _views(targets: Targets, all_targets: AllTargets) -> Tuple[EnvironmentView, ...]:
    chosen = selected_environments(targets, all_targets)
    return await MultiGet(
        Get(EnvironmentView, ViewRequest(EnvironmentRequest.from_target(t), t[ProvenanceField].value)) for t in chosen
    )


@rule(level=LogLevel.DEBUG)
def show_environment(view: EnvironmentView) -> ShowResult:
    return show(view)


@dataclass(frozen=True)
class WhyRequest:
    view: EnvironmentView
    package: str


@rule(level=LogLevel.DEBUG)
def why_package(request: WhyRequest) -> WhyResult:
    return why(request.view, request.package)


@dataclass(frozen=True)
class DriftRequest:
    views: Tuple[EnvironmentView, ...]


@rule(level=LogLevel.DEBUG)
def drift_of(request: DriftRequest) -> DriftResult:
    return drift(request.views)


def _nothing(console: Console, goal: str) -> None:
    console.print_stderr(f"{goal}: no peach environment among the given targets; name environments "
                         "(`//:peach#zzebu/ml`), a codops (`//:peach#zzebu`) or `::`.")


# ---------------------------------------------------------------------------------------------
# The goals
# ---------------------------------------------------------------------------------------------


class PeachShowSubsystem(GoalSubsystem):
    name = "peach-show"
    help = softwrap(
        """
        List every locked package of each peach environment given (an environment, a codops, or
        `::`): its version, and whether it is a direct requirement (with the config line and tier
        that declared it, and what it replaced) or transitive (with the direct requirements that
        pull it in), with its size and the environment's total (the download size of the wheel
        the image's first platform installs, from the lock's records). Locks what is not locked yet.
        """
    )
    format = EnumOption(default=OutputFormat.text, help=_FORMAT_HELP)
    sort = EnumOption(
        default=ShowSort.name,
        help="The order of the packages: `name` (the default), or `size`: the largest first, packages "
             "whose size the lock does not record last.",
    )


class PeachShow(Goal):
    subsystem_cls = PeachShowSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def peach_show(
    targets: Targets, all_targets: AllTargets, console: Console, subsystem: PeachShowSubsystem
) -> PeachShow:
    views = await _views(targets, all_targets)
    if not views:
        _nothing(console, "peach-show")
        return PeachShow(exit_code=1)
    results = await MultiGet(Get(ShowResult, EnvironmentView, v) for v in views)
    results = tuple(r.sorted_by(subsystem.sort.value) for r in results)
    render = render_show_json if subsystem.format == OutputFormat.json else render_show_text
    console.print_stdout(render(results), end="")
    return PeachShow(exit_code=0)


class PeachWhySubsystem(GoalSubsystem):
    name = "peach-why"
    help = softwrap(
        """
        Why is a package in my environment? For `--peach-why-package=<name>` and each peach
        environment given: every declaration of the package (file:line and tier), which one won and
        why, the locked version, every dependency path from a direct requirement down to it, its
        size, and the share of the environment it and the packages only it pulls in make up (for
        a direct requirement: what removing its declaration would save).
        Exits 1 when the package is in none of the environments (with "did you mean" for near names).
        """
    )
    package = StrOption(default=None, help="The package to explain (any spelling: `Torch`, `pipe_algorithms_lib`).")
    format = EnumOption(default=OutputFormat.text, help=_FORMAT_HELP)


class PeachWhy(Goal):
    subsystem_cls = PeachWhySubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def peach_why(targets: Targets, all_targets: AllTargets, console: Console, subsystem: PeachWhySubsystem) -> PeachWhy:
    if not subsystem.package:
        console.print_stderr("peach-why: name the package with `--peach-why-package=<name>`, e.g. "
                             f"`{bin_name()} peach-why --package=torch //:peach#zzebu/ml`.")
        return PeachWhy(exit_code=1)
    views = await _views(targets, all_targets)
    if not views:
        _nothing(console, "peach-why")
        return PeachWhy(exit_code=1)
    results = await MultiGet(Get(WhyResult, WhyRequest(v, subsystem.package)) for v in views)
    render = render_why_json if subsystem.format == OutputFormat.json else render_why_text
    console.print_stdout(render(results), end="")
    return PeachWhy(exit_code=0 if any(r.present for r in results) else 1)


class PeachDriftSubsystem(GoalSubsystem):
    name = "peach-drift"
    help = softwrap(
        """
        Report, per codops, the packages locked at different versions in different environments:
        each marked `intended` (a config pins it differently) or `drift` (nobody pinned it; the
        resolutions just chose differently). `--peach-drift-fail` makes drift fail the command.
        """
    )
    fail = BoolOption(default=False, help="Exit 1 when any package drifts (for CI).")
    format = EnumOption(default=OutputFormat.text, help=_FORMAT_HELP)


class PeachDrift(Goal):
    subsystem_cls = PeachDriftSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def peach_drift(
    targets: Targets, all_targets: AllTargets, console: Console, subsystem: PeachDriftSubsystem
) -> PeachDrift:
    views = await _views(targets, all_targets)
    if not views:
        _nothing(console, "peach-drift")
        return PeachDrift(exit_code=1)
    result = await Get(DriftResult, DriftRequest(tuple(views)))
    render = render_drift_json if subsystem.format == OutputFormat.json else render_drift_text
    console.print_stdout(render(result), end="")
    return PeachDrift(exit_code=1 if subsystem.fail and has_drift(result) else 0)


def rules():
    return collect_rules()
