"""Committed lockfiles: `pants generate-lockfiles --resolve=peach/<codops>/<env>`.

One resolve per environment. The lockfile is written sandbox- and checkout-independent (a
directory index appears as `file:///$PEACH_BUILD_ROOT/...`), so it is current in every clone.
"""
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
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import AllTargets
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict

from peach.environments.lock import (
    LockedEnvironment,
    LockEnvironmentRequest,
    lockfile_path,
    resolve_name,
)
from peach.environments.project import EnvironmentRequest
from peach.subsystem import PeachSubsystem
from peach.target_types import CodopsField, EnvironmentNameField, RequirementsField


class KnownPeachResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedPeachResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GeneratePeachLockfile(GenerateLockfile):
    environment: EnvironmentRequest


@dataclass(frozen=True)
class PeachResolves:
    """Every environment by its resolve name, `peach/<codops>/<env>`."""

    by_name: FrozenDict[str, EnvironmentRequest]


@rule(desc="Find the peach environments' resolves")
async def peach_resolves(all_targets: AllTargets) -> PeachResolves:
    requests = (EnvironmentRequest.from_target(t) for t in all_targets
                if t.has_fields((CodopsField, EnvironmentNameField, RequirementsField)))
    return PeachResolves(FrozenDict({resolve_name(r.codops, r.environment): r for r in requests}))


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
            lockfile_dest=lockfile_path(peach, env.codops, env.environment),
            diff=False,
            environment=env,
        )
        for name, env in ((n, resolves.by_name[n]) for n in requested)
    )


@rule(desc="Generate a committed peach lockfile")
async def generate_peach_lockfile(request: GeneratePeachLockfile) -> GenerateLockfileResult:
    locked = await Get(LockedEnvironment, LockEnvironmentRequest(request.environment, fresh=True))
    digest = await Get(Digest, CreateDigest([FileContent(request.lockfile_dest, locked.lock.encode())]))
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest)


def rules():
    return [
        *collect_rules(),
        UnionRule(GenerateLockfile, GeneratePeachLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownPeachResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedPeachResolveNames),
    ]
