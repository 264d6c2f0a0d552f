"""One environment's uv project: its requirements with every bare private package pinned to the
private index's latest release, and its `pyproject.toml`.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Tuple

from pants.core.util_rules.distdir import DistDir
from pants.engine.fs import EMPTY_DIGEST, Digest
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets, Target
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config.errors import PackagingError
from peach.config.ids import EnvironmentId
from peach.config.model import BASE
from peach.config.names import exact_names, matches_any
from peach.config.requirements import parse_requirement
from peach.environments.index import (
    LatestRelease,
    LatestReleaseRequest,
    PrivateIndexSetup,
    public_index_url,
)
from peach.environments.platforms import ImagePlatforms
from peach.subsystem import PeachSubsystem
from peach.target_types import (
    ConfigFilesField,
    RequirementsField,
    environment_id,
    is_py_environment,
)
from peach.uv.lockfile import DependencyMetadata
from peach.uv.pyproject import (
    PrivateIndex,
    ProjectSpec,
    index_url_for_project,
    render_pyproject,
    requires_python,
)
from peach.uv.tool import UvTool

@dataclass(frozen=True)
class EnvironmentRequest:
    """One environment, as its `py_environment` target describes it."""

    codops: str
    environment: str
    requirements: Tuple[str, ...]
    config_files: Tuple[str, ...]

    @classmethod
    def from_target(cls, target: Target) -> "EnvironmentRequest":
        env = environment_id(target)
        return cls(
            env.codops,
            env.environment,
            tuple(target[RequirementsField].value or ()),
            tuple(target[ConfigFilesField].value or ()),
        )

    @property
    def id(self) -> EnvironmentId:
        return EnvironmentId(self.codops, self.environment)

    @property
    def name(self) -> str:
        return self.id.name


@dataclass(frozen=True)
class EnvironmentProject:
    request: EnvironmentRequest
    spec: ProjectSpec
    dir: str  # <distdir>/peach/<codops>/<env>: in the sandbox, and relative to the build root
    index_in_lock: str  # how the lock names the private index (what the audit expects)
    index_files: Digest  # a directory index's wheels, which uv reads

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def requirements(self) -> Tuple[str, ...]:
        return self.spec.requirements

    def pyproject(self, metadata: Tuple[DependencyMetadata, ...] = ()) -> bytes:
        return render_pyproject(self.spec if not metadata else _with_metadata(self.spec, metadata)).encode()


def _with_metadata(spec: ProjectSpec, metadata: Tuple[DependencyMetadata, ...]) -> ProjectSpec:
    return replace(spec, dependency_metadata=metadata)


@dataclass(frozen=True)
class KnownEnvironments:
    """Every environment of the repository by its resolve name, `peach/<codops>/<env>`."""

    by_name: FrozenDict[str, EnvironmentRequest]


@rule(desc="Find the peach environments", level=LogLevel.DEBUG)
async def known_environments(all_targets: AllTargets) -> KnownEnvironments:
    requests = (EnvironmentRequest.from_target(t) for t in all_targets if is_py_environment(t))
    return KnownEnvironments(FrozenDict({r.id.resolve: r for r in requests}))


def lock_owner(request: EnvironmentRequest, gateway: str) -> EnvironmentRequest:
    """The environment whose lock `request` ships, renamed (`peach.uv.lockfile.rename_project`): the
    gateway's is base's. The gateway inherits base alone, so its requirements and config files are
    base's (`peach.config.merge`) and this is base's own request: one `uv lock` for both. (A
    hand-written gateway target that differed would still get the lock of its own requirements, made
    under base's name.) Found without reading the other targets, which would cost every edit the
    evaluation of all of them."""
    return replace(request, environment=BASE) if request.environment == gateway else request


def pin(requirement: str, versions: dict) -> str:
    """`requirement` with `==<latest>` if it is a bare private package looked up in `versions`."""
    req = parse_requirement(requirement)
    return req.pinned(versions[req.key]) if req.is_bare and req.key in versions else requirement


@rule(desc="Write a peach environment's pyproject.toml", level=LogLevel.DEBUG)
async def environment_project(
    request: EnvironmentRequest,
    setup: PrivateIndexSetup,
    peach: PeachSubsystem,
    uv: UvTool,
    distdir: DistDir,
    image: ImagePlatforms,
) -> EnvironmentProject:
    patterns = tuple(peach.private_packages)
    parsed = [parse_requirement(r) for r in request.requirements]
    bare_private = sorted({r.key for r in parsed if r.is_bare and matches_any(r.name, patterns)})
    try:
        latest = await MultiGet(Get(LatestRelease, LatestReleaseRequest(p)) for p in bare_private)
    except PackagingError as e:
        raise PackagingError(f"codops `{request.codops}`, environment `{request.environment}`: {e}") from None
    versions = {found.package: found.version for found in latest}
    pinned = tuple(pin(r, versions) for r in request.requirements)
    directory = posixpath.join(distdir.relpath.as_posix(), request.id.project_dir)
    if setup.is_directory:
        url, flat = index_url_for_project(setup.location, directory)
        index_in_lock = url
    else:
        url, flat, index_in_lock = setup.location, False, setup.location
    private = tuple(sorted({parse_requirement(r).key for r in pinned if matches_any(parse_requirement(r).name, patterns)}))
    spec = ProjectSpec(
        codops=request.codops,
        environment=request.environment,
        requirements=pinned,
        requires_python=requires_python(peach.python_version),
        uv_version=uv.version_number,
        platforms=image.markers,
        index=PrivateIndex(setup.name, url, flat),
        private_names=private,
        config_files=request.config_files,
        public_index=public_index_url(peach.public_index),
        transitive_private=tuple(n for n in exact_names(patterns) if n not in private),
    )
    index_files = setup.directory.digest if setup.directory is not None else EMPTY_DIGEST
    return EnvironmentProject(request, spec, directory, index_in_lock, index_files)


def rules():
    return collect_rules()
