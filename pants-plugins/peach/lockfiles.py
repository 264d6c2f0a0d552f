"""Committed lockfiles: `pants generate-lockfiles --resolve=peach/<codops>/<env>`."""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
)
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.internals.selectors import Get
from pants.engine.process import ProcessCacheScope
from pants.engine.rules import collect_rules, rule
from pants.engine.target import AllTargets
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict

from peach.errors import PackagingError
from peach.package import (
    EnvironmentProject,
    PrivateIndexSetup,
    PyEnvironmentFieldSet,
    UvLockRequest,
    UvLockResult,
    check_audit,
    lock_failure,
    lockfile_path,
    resolve_name,
)
from peach.subsystem import PeachSubsystem


class KnownPeachResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedPeachResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GeneratePeachLockfile(GenerateLockfile):
    field_set: PyEnvironmentFieldSet


@dataclass(frozen=True)
class PeachResolves:
    """Every environment by its resolve name, `peach/<codops>/<env>`."""

    by_name: FrozenDict[str, PyEnvironmentFieldSet]


@rule(desc="Find the peach environments' resolves")
async def peach_resolves(all_targets: AllTargets) -> PeachResolves:
    field_sets = (PyEnvironmentFieldSet.create(t) for t in all_targets if PyEnvironmentFieldSet.is_applicable(t))
    return PeachResolves(FrozenDict({resolve_name(f.codops.value, f.environment.value): f for f in field_sets}))


@rule
async def known_peach_resolves(_: KnownPeachResolveNamesRequest, resolves: PeachResolves) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(sorted(resolves.by_name)),
        option_name="[peach] (one resolve per py_environment: peach/<codops>/<env>)",
        requested_resolve_names_cls=RequestedPeachResolveNames,
    )


@rule
async def plan_peach_lockfiles(
    requested: RequestedPeachResolveNames, resolves: PeachResolves, peach: PeachSubsystem
) -> UserGenerateLockfiles:
    return UserGenerateLockfiles(
        GeneratePeachLockfile(
            resolve_name=name,
            lockfile_dest=lockfile_path(peach, fs.codops.value, fs.environment.value),
            diff=False,
            field_set=fs,
        )
        for name, fs in ((n, resolves.by_name[n]) for n in requested)
    )


@rule(desc="Generate a committed peach lockfile")
async def generate_peach_lockfile(request: GeneratePeachLockfile, setup: PrivateIndexSetup) -> GenerateLockfileResult:
    project = await Get(EnvironmentProject, PyEnvironmentFieldSet, request.field_set)
    name = f"{project.codops}/{project.environment}"
    result = await Get(UvLockResult, UvLockRequest(
        project, None, f"uv lock {name} (generate-lockfiles)", ProcessCacheScope.PER_SESSION))
    if result.exit_code != 0:
        raise PackagingError(lock_failure(name, setup, result.stderr))
    check_audit(project, setup, result.lock)
    digest = await Get(Digest, CreateDigest([FileContent(request.lockfile_dest, result.lock)]))
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest)


def rules():
    return [
        *collect_rules(),
        UnionRule(GenerateLockfile, GeneratePeachLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownPeachResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedPeachResolveNames),
    ]
