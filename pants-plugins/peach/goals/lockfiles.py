"""Committed lockfiles: `pants generate-lockfiles --resolve=peach/<codops>/<env>`.

One resolve per environment. The lockfile is written sandbox- and checkout-independent (a
directory index appears as `file:///$PEACH_BUILD_ROOT/...`), so it is current in every clone.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    LockfileDiff,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
)
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # packaging 21.3 and a newer pyparsing
    from packaging.version import InvalidVersion, Version

from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.project import EnvironmentRequest, KnownEnvironments
from peach.subsystem import PeachSubsystem
from peach.uv.lockfile import parse_lock


class KnownPeachResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedPeachResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GeneratePeachLockfile(GenerateLockfile):
    environment: EnvironmentRequest


@rule
async def known_peach_resolves(_: KnownPeachResolveNamesRequest, resolves: KnownEnvironments) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(sorted(resolves.by_name)),
        option_name="[peach] (one resolve per py_environment: peach/<codops>/<env>)",
        requested_resolve_names_cls=RequestedPeachResolveNames,
    )


@rule
async def plan_peach_lockfiles(
    requested: RequestedPeachResolveNames, resolves: KnownEnvironments, peach: PeachSubsystem
) -> UserGenerateLockfiles:
    return UserGenerateLockfiles(
        GeneratePeachLockfile(
            resolve_name=name,
            lockfile_dest=env.id.lockfile_path(peach.lockfile_dir),
            diff=False,
            environment=env,
        )
        for name, env in ((n, resolves.by_name[n]) for n in requested)
    )


def _versions(lock_text: str) -> FrozenDict:
    return FrozenDict({name: _version(v) for name, v in parse_lock(lock_text).versions().items()})


def _version(text: str):
    try:
        return Version(text)
    except InvalidVersion:  # a version uv accepts and packaging 21.3 does not: compare as text
        return text


@rule(desc="Generate a committed peach lockfile")
async def generate_peach_lockfile(request: GeneratePeachLockfile) -> GenerateLockfileResult:
    locked = await Get(LockedEnvironment, LockEnvironmentRequest(request.environment, fresh=True))
    digest = await Get(Digest, CreateDigest([FileContent(request.lockfile_dest, locked.lock.encode())]))
    diff = None
    if request.diff:  # `[generate-lockfiles].diff`: Pants prints what changed against the old lockfile
        old = _versions(locked.committed_lock) if locked.committed_lock else FrozenDict()
        diff = LockfileDiff.create(request.lockfile_dest, request.resolve_name, old, _versions(locked.lock))
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest, diff)


def rules():
    return [
        *collect_rules(),
        UnionRule(GenerateLockfile, GeneratePeachLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownPeachResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedPeachResolveNames),
    ]
