"""Locking one environment: `uv lock`, checked against what each of the image's platforms installs,
a committed lockfile's policy, and the dependency-confusion audit.

The steps, each its own cached process:

1. a committed lockfile (`pants generate-lockfiles`) is shipped when `uv lock` started from it
   (with the dependency metadata it records) changes nothing; otherwise `[peach].stale_lockfile`
   decides: an error, or that lock made from it is shipped (as `uv lock` keeps a uv project's
   versions); only where the platforms disagree with it is a fresh lock made:
2. `uv lock` of the project (from the codops' base lock with `[peach].align_environments`);
3. `uv pip compile --python-platform` for each platform, constrained to the lock's versions: where
   the universal lock disagrees with a platform (wheels whose metadata differ), the project
   declares those packages' metadata and is locked again; what still disagrees fails;
4. every private package in the lock must come from the private index.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.docutil import bin_name
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config.errors import PackagingError
from peach.config.ids import EnvironmentId
from peach.config.model import BASE
from peach.config.names import matches_any
from peach.environments.explain import ResolutionFailure, ResolutionFailureMessage
from peach.environments.failure import is_resolution_failure
from peach.environments.index import PrivateIndexSetup
from peach.environments.platforms import ImagePlatforms
from peach.environments.project import (
    EnvironmentProject,
    EnvironmentRequest,
    KnownEnvironments,
    lock_owner,
)
from peach.insight.sizes import EnvironmentSize, lock_size
from peach.subsystem import PeachSubsystem, StaleLockfileBehavior
from peach.uv.lockfile import (
    DependencyMetadata,
    Installed,
    LockChanges,
    audit,
    lock_changes,
    parse_lock,
    rename_project,
)
from peach.uv.platforms import (
    Override,
    Platform,
    check,
    describe,
    lock_constraints,
    metadata_fixes,
    offline_is_online,
    parse_compile,
    pinned_overrides,
)
from peach.uv.tool import UvProcess, uv_message

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UvLockRequest:
    project: EnvironmentProject
    metadata: Tuple[DependencyMetadata, ...] = ()
    existing: Optional[bytes] = None  # a uv.lock to start from (uv keeps its versions where it can)
    fresh: bool = False  # re-resolve on every run (generate-lockfiles), never from a cache
    purpose: str = ""  # shown after the process's description: "check", "aligned with base"


@dataclass(frozen=True)
class UvLockResult:
    lock: str  # sandbox-independent (see `peach.uv.runner`)


@rule(desc="Run uv lock for a peach environment", level=LogLevel.DEBUG)
async def run_uv_lock(request: UvLockRequest, setup: PrivateIndexSetup) -> UvLockResult:
    project = request.project
    files = [FileContent(f"{project.dir}/pyproject.toml", project.pyproject(request.metadata))]
    if request.existing is not None:
        files.append(FileContent(f"{project.dir}/uv.lock", request.existing))
    created = await Get(Digest, CreateDigest(files))
    digest = await Get(Digest, MergeDigests([created, project.index_files]))
    what = "generate-lockfiles" if request.fresh else request.purpose
    result = await Get(FallibleProcessResult, UvProcess(
        argv=("lock", "--directory", project.dir),
        input_digest=digest,
        output_files=(f"{project.dir}/uv.lock",),
        lock=f"{project.dir}/uv.lock",
        relocate=setup.is_directory,
        description=f"uv lock {project.name}" + (f" ({what})" if what else ""),
        cache_scope=ProcessCacheScope.PER_SESSION if request.fresh else ProcessCacheScope.SUCCESSFUL,
    ))
    if result.exit_code != 0:
        stderr = uv_message(result.stderr)
        if is_resolution_failure(stderr):  # the configs' declarations, uv's reason and the fix
            raise PackagingError((await Get(ResolutionFailureMessage, ResolutionFailure(
                project.request, stderr, setup.shown))).text)
        raise PackagingError(lock_failure(project.name, setup, stderr))
    contents = await Get(DigestContents, Digest, result.output_digest)
    return UvLockResult(contents[0].content.decode())


@dataclass(frozen=True)
class PlatformResolutionRequest:
    project: EnvironmentProject
    platform: Platform
    fresh: bool = False
    # Private packages that only arrive transitively, pinned to a file (see `pinned_overrides`).
    overrides: Tuple[Override, ...] = ()
    # `name==version` of the lock being checked (see `lock_constraints`).
    constraints: Tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformResolution:
    platform: Platform
    packages: FrozenDict[str, Installed]


@rule(desc="Resolve a peach environment for one platform", level=LogLevel.DEBUG)
async def resolve_for_platform(
    request: PlatformResolutionRequest, setup: PrivateIndexSetup, image: ImagePlatforms
) -> PlatformResolution:
    project = request.project
    files = [FileContent(f"{project.dir}/pyproject.toml", project.pyproject())]
    options: Tuple[str, ...] = ()
    if request.overrides:
        files.append(FileContent(f"{project.dir}/{_OVERRIDES}", "".join(f"{o}\n" for o in request.overrides).encode()))
        options += ("--overrides", _OVERRIDES)
    if request.constraints:
        files.append(FileContent(f"{project.dir}/{_CONSTRAINTS}",
                                 "".join(f"{c}\n" for c in request.constraints).encode()))
        options += ("--constraints", _CONSTRAINTS)
    created = await Get(Digest, CreateDigest(files))
    digest = await Get(Digest, MergeDigests([created, project.index_files]))
    argv = ("pip", "compile", "--directory", project.dir, "pyproject.toml", "--python-version",
            image.python_version, "--python-platform", request.platform.name, "--annotation-style", "line",
            "--no-header", *options)
    description = f"uv pip compile {project.name} for {request.platform.name}"
    relocated = (f"{project.dir}/{_OVERRIDES}",) if request.overrides else ()
    scope = ProcessCacheScope.PER_SESSION if request.fresh else ProcessCacheScope.SUCCESSFUL
    # After the lock, the uv cache holds what the platform's resolution needs unless the wheels
    # disagree: offline first (a tenth of a second; online takes a second or more against PyPI).
    # Its answer stands only when it cannot differ from the online one (`offline_is_online`: every
    # package it installs is pinned), so what a machine's uv cache holds never decides the check,
    # and caching that answer (locally, remotely) caches the online answer.
    offline = await Get(FallibleProcessResult, UvProcess(
        argv=(*argv, "--offline"), input_digest=digest, description=f"{description} (offline)",
        relocated_inputs=relocated, relocate=setup.is_directory, cache_scope=scope, level=LogLevel.DEBUG,
    ))
    if offline.exit_code == 0:
        packages = _parse_compile(project, request.platform, offline.stdout)
        if offline_is_online(packages, request.constraints, request.overrides):
            return PlatformResolution(request.platform, FrozenDict(packages))
    result = await Get(FallibleProcessResult, UvProcess(
        argv=argv, input_digest=digest, description=description, relocated_inputs=relocated,
        relocate=setup.is_directory, cache_scope=scope,
    ))
    if result.exit_code != 0:
        stderr = uv_message(result.stderr)
        if is_resolution_failure(stderr):  # the configs' declarations, uv's reason and the fix
            raise PackagingError((await Get(ResolutionFailureMessage, ResolutionFailure(
                project.request, stderr, setup.shown, request.platform.name))).text)
        raise PackagingError(lock_failure(project.name, setup, stderr, f" for the platform {request.platform.name}"))
    return PlatformResolution(request.platform, FrozenDict(_parse_compile(project, request.platform, result.stdout)))


def _parse_compile(project: EnvironmentProject, platform: Platform, stdout: bytes) -> Dict[str, Installed]:
    try:
        return parse_compile(stdout.decode())
    except ValueError as e:
        raise PackagingError(f"environment `{project.name}`, platform {platform.name}: {e}. "
                             "Report it with the environment's pyproject.toml.") from None


_OVERRIDES = ".peach-overrides.txt"
_CONSTRAINTS = ".peach-constraints.txt"


def lock_failure(name: str, setup: PrivateIndexSetup, stderr: str, what: str = "") -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    detail = "\n".join(lines[-25:])
    return f"uv could not lock environment `{name}`{what} (private index: {setup.shown}):\n\n{detail}"


# ---------------------------------------------------------------------------------------------
# One environment, locked
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockedEnvironment:
    project: EnvironmentProject
    pyproject: bytes
    lock: str  # sandbox-independent; `relocate` it to the build root before writing it out
    metadata: Tuple[DependencyMetadata, ...]
    committed: Optional[str]  # the committed lockfile's path, when there is one
    committed_lock: Optional[str] = None  # and its content
    # What each of the image's platforms installs, sized from the lock's records (`peach.insight.sizes`):
    # computed from the lock already parsed here, so sizing costs no second read of it.
    size: Optional[EnvironmentSize] = None


@dataclass(frozen=True)
class LockEnvironmentRequest:
    request: EnvironmentRequest
    fresh: bool = False  # generate-lockfiles: resolve anew, ignore a committed lockfile


async def _platform_view(
    project: EnvironmentProject, lock_text: str, fresh: bool, setup: PrivateIndexSetup, image: ImagePlatforms
) -> Dict[Platform, Dict[str, Installed]]:
    """What each of the image's platforms installs, resolved on its own with the lock's versions."""
    lock = parse_lock(lock_text)
    directory = setup.location if setup.is_directory else ""
    transitive = project.spec.transitive_private
    requests = []
    for platform in image.platforms:
        overrides = pinned_overrides(lock, transitive, platform, directory) if transitive else ()
        pinned = [o.name for o in overrides]
        requests.append(PlatformResolutionRequest(project, platform, fresh, overrides,
                                                  lock_constraints(lock, exclude=pinned)))
    resolutions = await MultiGet(Get(PlatformResolution, PlatformResolutionRequest, r) for r in requests)
    return {r.platform: dict(r.packages) for r in resolutions}


@dataclass(frozen=True)
class FreshLockRequest:
    request: EnvironmentRequest
    fresh: bool = False  # generate-lockfiles: never from a cache


@dataclass(frozen=True)
class FreshLock:
    """An environment's lock made without a committed lockfile, with what each platform installs."""

    lock: str  # sandbox-independent
    metadata: Tuple[DependencyMetadata, ...]
    platforms: Tuple[PlatformResolution, ...]

    def by_platform(self) -> Dict[Platform, Dict[str, Installed]]:
        return {r.platform: dict(r.packages) for r in self.platforms}


@rule(desc="Lock a peach environment from its requirements", level=LogLevel.DEBUG)
async def fresh_lock(
    fresh_request: FreshLockRequest, setup: PrivateIndexSetup, peach: PeachSubsystem, image: ImagePlatforms
) -> FreshLock:
    request, fresh = fresh_request.request, fresh_request.fresh
    project = await Get(EnvironmentProject, EnvironmentRequest, request)
    start = None
    if peach.align_environments and request.environment not in (BASE, peach.gateway_environment):
        # Start from the codops' base lock: unpinned shared packages keep base's versions.
        known = await Get(KnownEnvironments)
        base = known.by_name.get(EnvironmentId(request.codops, BASE).resolve)
        if base is not None:
            start = (await Get(LockedEnvironment, LockEnvironmentRequest(base, fresh))).lock.encode()
    first = await Get(UvLockResult, UvLockRequest(project, existing=start, fresh=fresh, purpose=_aligned(start)))
    by_platform = await _platform_view(project, first.lock, fresh, setup, image)
    metadata: Tuple[DependencyMetadata, ...] = ()
    if check(parse_lock(first.lock), by_platform, image.python_version):
        metadata = metadata_fixes(parse_lock(first.lock), by_platform, image.python_version)
    final = first.lock
    if metadata:
        # Locked again from the first lock, so the versions the platforms resolved stay.
        final = (await Get(UvLockResult, UvLockRequest(project, metadata, existing=first.lock.encode(),
                                                       fresh=fresh, purpose="with metadata"))).lock
    platforms = tuple(PlatformResolution(p, FrozenDict(packages)) for p, packages in by_platform.items())
    return FreshLock(final, metadata, platforms)


@rule(desc="Lock a peach environment", level=LogLevel.DEBUG)
async def lock_environment(
    lock_request: LockEnvironmentRequest, setup: PrivateIndexSetup, peach: PeachSubsystem, image: ImagePlatforms
) -> LockedEnvironment:
    request, fresh = lock_request.request, lock_request.fresh
    committed_path = request.id.lockfile_path(peach.lockfile_dir)
    project, committed = await MultiGet(
        Get(EnvironmentProject, EnvironmentRequest, request),
        Get(DigestContents, PathGlobs([committed_path])),
    )
    committed_lock = committed[0].content.decode() if committed else None
    final: Optional[str] = None
    if committed_lock is not None and not fresh:
        # Current when `uv lock` started from it (with the metadata it was made with) changes nothing.
        declared = parse_lock(committed_lock).declared_metadata
        started = await Get(UvLockResult, UvLockRequest(project, declared, existing=committed_lock.encode(),
                                                        purpose="check"))
        if started.lock != committed_lock:
            stale_policy(peach, project, committed_path, committed_lock, started.lock)
        # Current, or stale and allowed: what `uv lock` made from it is shipped (the committed versions
        # kept where the requirements allow, as `uv lock` does in a uv project), if the platforms agree.
        by_platform = await _platform_view(project, started.lock, fresh, setup, image)
        if started.lock == committed_lock or not check(parse_lock(started.lock), by_platform, image.python_version):
            final, metadata = started.lock, declared
    if final is None:
        # The gateway ships base's lock, renamed: one `uv lock` for both (`lock_owner`).
        owner = lock_owner(request, peach.gateway_environment)
        made = await Get(FreshLock, FreshLockRequest(owner, fresh))
        metadata, by_platform = made.metadata, made.by_platform()
        final = made.lock if owner == request else _renamed(made.lock, owner, request)
    parsed = parse_lock(final)
    still = check(parsed, by_platform, image.python_version)
    if still:
        regenerate = (f" The committed lockfile {committed_path} is the one that disagrees: regenerate it with "
                      f"`{bin_name()} generate-lockfiles --resolve={request.id.resolve}`."
                      if final == committed_lock and not fresh else "")
        raise PackagingError(
            f"environment `{project.name}`: the lock does not match what the image's platforms install, even "
            f"with the metadata of the packages whose wheels disagree declared: {describe(still)}. The lockfile "
            "was not written." + (regenerate or " Pin the packages concerned to versions whose wheels agree, or "
                                              "report it with the environment's pyproject.toml.")
        )
    problem = audit(parsed, lambda name: matches_any(name, peach.private_packages), project.index_in_lock)
    if problem:
        raise PackagingError(f"environment `{project.name}`: DEPENDENCY CONFUSION: {problem}. "
                             "The lockfile was not written.")
    return LockedEnvironment(project, project.pyproject(metadata), final, metadata,
                             committed_path if committed else None, committed_lock,
                             lock_size(parsed, image.platforms, image.python_version))


def _renamed(lock: str, owner: EnvironmentRequest, request: EnvironmentRequest) -> str:
    try:
        return rename_project(lock, owner.id.project_name, request.id.project_name)
    except ValueError as e:  # uv wrote a lock of another shape than the one peach knows
        raise PackagingError(f"environment `{request.name}`: the lock of `{owner.name}` cannot be shipped under "
                             f"its name ({e}). Report it with both environments' pyproject.toml.") from None


def _aligned(start: Optional[bytes]) -> str:
    return "aligned with base" if start is not None else ""


def stale_policy(peach: PeachSubsystem, project: EnvironmentProject, path: str, committed: str, relocked: str) -> None:
    """What a stale committed lockfile turns into: an error, or (warn/ignore) the lock `uv lock` made
    from it (a fresh lock where the platforms disagree with that one)."""
    diff = stale_changes(committed, relocked)
    message = (
        f"The committed lockfile {path} of environment `{project.name}` is stale: it no longer matches the "
        f"environment's requirements. Locked from it, the environment gets {diff.summary()}:\n\n"
        + "\n".join(f"    {line}" for line in diff.lines())
        + f"\n\nRegenerate it with:\n\n    {bin_name()} generate-lockfiles --resolve={project.request.id.resolve}\n"
    )
    if peach.stale_lockfile == StaleLockfileBehavior.error:
        raise PackagingError(message + "\n(or set `[peach].stale_lockfile` to `warn` to re-lock when packaging)")
    if peach.stale_lockfile == StaleLockfileBehavior.warn:
        logger.warning(message + "Packaging that lock (made from the committed one) instead.")


def stale_changes(committed: str, relocked: str) -> LockChanges:
    # uv read the committed file before this (it locked from it), so it is a valid uv.lock.
    return lock_changes(parse_lock(committed), parse_lock(relocked))


def rules():
    return collect_rules()
