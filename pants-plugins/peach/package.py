"""`pants package` for peach: one locked uv project per environment, and environments.json per codops."""
from __future__ import annotations

import logging
import os
import pkgutil
import posixpath
from dataclasses import dataclass
from typing import Optional, Tuple

from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.backend.python.util_rules.pex_environment import PythonExecutable
from pants.base.build_root import BuildRoot
from pants.core.goals.package import (
    BuiltPackage,
    BuiltPackageArtifact,
    EnvironmentAwarePackageRequest,
    PackageFieldSet,
)
from pants.core.util_rules.distdir import DistDir
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.internals.selectors import Get, MultiGet
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import collect_rules, rule
from pants.engine.target import DependenciesRequest, Targets
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from peach import index as index_lookup
from peach.errors import PackagingError
from peach.pyproject import (
    PrivateIndex,
    ProjectSpec,
    audit_lock,
    credentials_env_names,
    exact_names,
    index_url_for_project,
    normalize_lock,
    private_names,
    redact,
    render_environments_json,
    render_pyproject,
    requires_python,
)
from peach.config import Settings
from peach.requirements import parse_requirement
from peach.subsystem import PeachSubsystem, StaleLockfileBehavior
from peach.target_types import (
    CodopsField,
    ComponentsField,
    ConfigFilesField,
    EndpointNameField,
    EnvironmentNameField,
    FullNotebookField,
    MethodField,
    NotebookField,
    PeachCodopsDependenciesField,
    RequirementsField,
    TaskNameField,
    UrlField,
)
from peach.uv_tool import UvTool

PROJECTS_DIR = "peach"


def project_dir(codops: str, environment: str) -> str:
    """Where an environment's project goes, relative to the dist dir."""
    return f"{PROJECTS_DIR}/{codops}/{environment}"


@dataclass(frozen=True)
class PyEnvironmentFieldSet(PackageFieldSet):
    required_fields = (CodopsField, EnvironmentNameField, RequirementsField)

    codops: CodopsField
    environment: EnvironmentNameField
    requirements: RequirementsField
    config_files: ConfigFilesField


@dataclass(frozen=True)
class PeachCodopsFieldSet(PackageFieldSet):
    required_fields = (CodopsField, PeachCodopsDependenciesField)

    codops: CodopsField
    dependencies: PeachCodopsDependenciesField


# ---------------------------------------------------------------------------------------------
# The private index
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateIndexSetup:
    """The `[peach]` private index, its credentials (from the environment) and, for a directory, its files."""

    location: str  # an http(s) URL, or a directory relative to the build root
    name: str
    credentials: Tuple[Tuple[str, str], ...]  # (uv variable, value) pairs that are set
    directory: Optional[Snapshot]

    @property
    def is_directory(self) -> bool:
        return self.directory is not None


@rule(desc="Find the peach private index")
async def private_index_setup(peach: PeachSubsystem) -> PrivateIndexSetup:
    location = peach.private_index.strip()
    if not location:
        raise PackagingError(
            "[peach].private_index is not set: peach needs the private index that private packages "
            f"({', '.join(peach.private_packages)}) come from. Set it in pants.toml to the index URL "
            "(e.g. `https://pypi.example.com/simple`) or to a directory of wheels in the repository."
        )
    names = credentials_env_names(peach.private_index_name)
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(names))
    credentials = tuple((name, env[name]) for name in names if env.get(name))
    if location.startswith(("http://", "https://")):
        return PrivateIndexSetup(location.rstrip("/"), peach.private_index_name, credentials, None)
    if os.path.isabs(location) or posixpath.normpath(location).startswith(".."):
        raise PackagingError(
            f"[peach].private_index = `{location}`: a directory of wheels must be a path relative to the build "
            "root, inside the repository; use an http(s) URL for an index elsewhere."
        )
    directory = await Get(Snapshot, PathGlobs([f"{posixpath.normpath(location)}/*"]))
    if not directory.files:
        raise PackagingError(
            f"[peach].private_index = `{location}`: no such directory of wheels in the repository (or it is empty)."
        )
    return PrivateIndexSetup(posixpath.normpath(location), peach.private_index_name, credentials, directory)


@dataclass(frozen=True)
class LatestReleaseRequest:
    package: str  # canonical name


@dataclass(frozen=True)
class LatestRelease:
    package: str
    version: Optional[str]
    error: Optional[str]


_INDEX_SCRIPT = "peach_latest_release.py"


@rule(desc="Look up the latest release on the private index")
async def latest_release(
    request: LatestReleaseRequest, setup: PrivateIndexSetup, peach: PeachSubsystem
) -> LatestRelease:
    if setup.directory is not None:
        filenames = ((posixpath.basename(f), False) for f in setup.directory.files)
        version = index_lookup.latest_in_filenames(filenames, request.package)
        error = None if version else f"{request.package} has no final release in the directory {setup.location}"
        return LatestRelease(request.package, version, error)
    python = await Get(PythonExecutable, InterpreterConstraints([f"CPython=={peach.python_version}.*"]))
    script = await Get(Digest, CreateDigest([FileContent(_INDEX_SCRIPT, _index_script())]))
    user_var, password_var = credentials_env_names(setup.name)
    creds = dict(setup.credentials)
    env = {}
    if user_var in creds:
        env[index_lookup.USERNAME_ENV] = creds[user_var]
    if password_var in creds:
        env[index_lookup.PASSWORD_ENV] = creds[password_var]
    tls = await Get(EnvironmentVars, EnvironmentVarsRequest(("SSL_CERT_FILE", "SSL_CERT_DIR")))
    env[index_lookup.TIMEOUT_ENV] = str(peach.index_timeout)
    result = await Get(FallibleProcessResult, Process(
        argv=(python.path, "-I", _INDEX_SCRIPT, setup.location, request.package),
        input_digest=script,
        env={**env, **{k: v for k, v in tls.items() if v}},
        description=f"Look up the latest {request.package} on the private index",
        level=LogLevel.DEBUG,
        cache_scope=ProcessCacheScope.PER_SESSION,  # fresh on every build, never cached for ever
        timeout_seconds=peach.index_timeout + 30,
    ))
    if result.exit_code == 0:
        return LatestRelease(request.package, result.stdout.decode().strip(), None)
    return LatestRelease(request.package, None, result.stderr.decode().strip() or f"exit code {result.exit_code}")


def _index_script() -> bytes:
    data = pkgutil.get_data("peach", "index.py")
    assert data is not None
    return data


# ---------------------------------------------------------------------------------------------
# One environment's project
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentProject:
    codops: str
    environment: str
    requirements: Tuple[str, ...]  # the final list, private packages pinned
    private_names: Tuple[str, ...]
    pyproject: Digest  # at <distdir>/peach/<codops>/<env>/pyproject.toml
    dir: str  # <distdir>/peach/<codops>/<env>, in the sandbox and relative to the build root
    private_patterns: Tuple[str, ...]

    def is_private(self, name: str) -> bool:
        return Settings(private_packages=self.private_patterns).is_private(name)


@rule(desc="Write a peach environment's pyproject.toml")
async def environment_project(
    fs: PyEnvironmentFieldSet, setup: PrivateIndexSetup, peach: PeachSubsystem, uv: UvTool, distdir: DistDir
) -> EnvironmentProject:
    codops, env = fs.codops.value, fs.environment.value
    settings = Settings(private_packages=tuple(peach.private_packages))
    requirements = fs.requirements.value or ()
    parsed = [parse_requirement(r) for r in requirements]
    bare_private = sorted({r.key for r in parsed if r.is_bare and settings.is_private(r.name)})
    latest = await MultiGet(Get(LatestRelease, LatestReleaseRequest(p)) for p in bare_private)
    versions = {}
    for found in latest:
        if found.version is None:
            raise PackagingError(f"codops `{codops}`, environment `{env}`: cannot pin {found.package} to its latest "
                                 f"release: {found.error}")
        versions[found.package] = found.version
    pinned = tuple(_pin(r, versions) for r in requirements)
    directory = posixpath.join(distdir.relpath.as_posix(), project_dir(codops, env))
    url, flat = (setup.location, False) if not setup.is_directory else index_url_for_project(setup.location, directory)
    spec = ProjectSpec(
        codops=codops,
        environment=env,
        requirements=pinned,
        requires_python=requires_python(peach.python_version),
        uv_version=uv.version_number,
        platforms=tuple(peach.platforms),
        index=PrivateIndex(setup.name, url, flat),
        private_names=private_names(pinned, settings.is_private),
        config_files=tuple(fs.config_files.value or ()),
        public_index=peach.public_index.strip(),
        transitive_private=tuple(
            n for n in exact_names(peach.private_packages) if n not in private_names(pinned, settings.is_private)
        ),
    )
    digest = await Get(Digest, CreateDigest([
        FileContent(f"{directory}/pyproject.toml", render_pyproject(spec).encode()),
    ]))
    return EnvironmentProject(codops, env, pinned, spec.private_names, digest, directory, tuple(peach.private_packages))


def _pin(requirement: str, versions: dict) -> str:
    req = parse_requirement(requirement)
    if req.is_bare and req.key in versions:
        return parse_requirement(f"{req.name}=={versions[req.key]}").render(req.extras) + (
            f"; {req.marker}" if req.marker else "")
    return requirement


# ---------------------------------------------------------------------------------------------
# Locking
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UvLockRequest:
    project: EnvironmentProject
    existing: Optional[Digest]  # a committed uv.lock, placed at <dir>/uv.lock (uv keeps its versions)
    description: str
    # `generate-lockfiles` re-resolves on every run; `package` may reuse a lock of the same inputs.
    cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL


@dataclass(frozen=True)
class UvLockResult:
    exit_code: int
    lock: bytes  # the content of <dir>/uv.lock, normalised (see `normalize_lock`)
    stderr: str


_SANDBOX_DIRS = (".peach/home", ".peach/config", ".peach/credentials")


@rule(desc="Run uv lock for a peach environment")
async def run_uv_lock(
    request: UvLockRequest, uv: UvTool, setup: PrivateIndexSetup, peach: PeachSubsystem, buildroot: BuildRoot
) -> UvLockResult:
    project = request.project
    uv_pex = await Get(VenvPex, PexRequest, uv.to_pex_request())
    python = await Get(PythonExecutable, InterpreterConstraints([f"CPython=={peach.python_version}.*"]))
    isolation = await Get(Digest, CreateDigest([
        # An empty system uv.toml, so /etc/uv/uv.toml cannot weaken the index policy.
        FileContent(".peach/sysconfig/uv/uv.toml", b""),
        *(FileContent(f"{d}/.keep", b"") for d in _SANDBOX_DIRS),
    ]))
    inputs = [project.pyproject, isolation]
    if setup.directory is not None:
        inputs.append(setup.directory.digest)
    if request.existing is not None:
        inputs.append(request.existing)
    input_digest = await Get(Digest, MergeDigests(inputs))
    argv = ["lock", "--directory", project.dir, "--python", python.path, "--no-progress"]
    result = await Get(FallibleProcessResult, VenvPexProcess(
        uv_pex,
        argv=argv,
        input_digest=input_digest,
        output_files=(f"{project.dir}/uv.lock",),
        extra_env={
            "HOME": "{chroot}/.peach/home",
            "XDG_CONFIG_HOME": "{chroot}/.peach/config",
            "XDG_CONFIG_DIRS": "{chroot}/.peach/sysconfig",
            "UV_CACHE_DIR": "{chroot}/.cache/uv",
            "UV_CREDENTIALS_DIR": "{chroot}/.peach/credentials",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            **dict(setup.credentials),
        },
        append_only_caches={"peach_uv": ".cache/uv"},
        description=request.description,
        level=LogLevel.INFO,
        cache_scope=request.cache_scope,
    ))
    stderr = result.stderr.decode(errors="replace")
    if result.exit_code != 0:
        return UvLockResult(result.exit_code, b"", stderr)
    contents = await Get(DigestContents, Digest, result.output_digest)
    text = contents[0].content.decode()
    if setup.is_directory:
        text = normalize_lock(text, setup.location, buildroot.path)
    return UvLockResult(0, text.encode(), stderr)


def lockfile_path(peach: PeachSubsystem, codops: str, environment: str) -> str:
    return posixpath.join(peach.lockfile_dir, codops, environment, "uv.lock")


def resolve_name(codops: str, environment: str) -> str:
    return f"peach/{codops}/{environment}"


@dataclass(frozen=True)
class LockedEnvironment:
    project: EnvironmentProject
    digest: Digest  # pyproject.toml + uv.lock under <distdir>/peach/<codops>/<env>/


@rule(desc="Lock a peach environment")
async def lock_environment(
    fs: PyEnvironmentFieldSet, setup: PrivateIndexSetup, peach: PeachSubsystem
) -> LockedEnvironment:
    project = await Get(EnvironmentProject, PyEnvironmentFieldSet, fs)
    name = f"{project.codops}/{project.environment}"
    committed_path = lockfile_path(peach, project.codops, project.environment)
    committed = await Get(DigestContents, PathGlobs([committed_path]))
    lock: Optional[bytes] = None
    if committed:
        # Current means: `uv lock` with the committed lock as its starting point changes nothing.
        placed = await Get(Digest, CreateDigest([FileContent(f"{project.dir}/uv.lock", committed[0].content)]))
        check = await Get(UvLockResult, UvLockRequest(project, placed, f"Check the committed uv.lock of {name}"))
        if check.exit_code != 0:
            raise PackagingError(lock_failure(name, setup, check.stderr))
        if check.lock == committed[0].content:
            lock = committed[0].content
        else:
            message = (f"The committed lockfile {committed_path} of environment `{name}` is stale (it no longer "
                       f"matches the environment's requirements). Regenerate it with:\n\n    "
                       f"pants generate-lockfiles --resolve={resolve_name(project.codops, project.environment)}\n")
            if peach.stale_lockfile == StaleLockfileBehavior.error:
                raise PackagingError(message + "\n(or set `[peach].stale_lockfile` to `warn` to re-lock when packaging)")
            if peach.stale_lockfile == StaleLockfileBehavior.warn:
                logging.getLogger(__name__).warning(message + "Packaging a freshly resolved lockfile instead.")
    if lock is None:
        result = await Get(UvLockResult, UvLockRequest(project, None, f"uv lock {name}"))
        if result.exit_code != 0:
            raise PackagingError(lock_failure(name, setup, result.stderr))
        lock = result.lock
    check_audit(project, setup, lock)
    lock_digest = await Get(Digest, CreateDigest([FileContent(f"{project.dir}/uv.lock", lock)]))
    digest = await Get(Digest, MergeDigests([project.pyproject, lock_digest]))
    return LockedEnvironment(project, digest)


def check_audit(project: EnvironmentProject, setup: PrivateIndexSetup, lock: bytes) -> None:
    """Fail unless every private package in the lock comes from the private index."""
    problem = audit_lock(lock.decode(), project.is_private, _index_in_lock(project, setup))
    if problem:
        raise PackagingError(f"environment `{project.codops}/{project.environment}`: DEPENDENCY CONFUSION: "
                             f"{problem}. The lockfile was not written.")


def _index_in_lock(project: EnvironmentProject, setup: PrivateIndexSetup) -> str:
    if setup.is_directory:
        return index_url_for_project(setup.location, project.dir)[0]
    return setup.location


def lock_failure(name: str, setup: PrivateIndexSetup, stderr: str) -> str:
    text = stderr
    for _, value in setup.credentials:
        text = text.replace(value, "***")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    detail = "\n".join(lines[-25:])
    return (f"uv could not lock environment `{name}` (private index: {redact(setup.location)}):\n\n{detail}")


@rule(desc="Package a peach environment as a uv project", level=LogLevel.DEBUG)
async def package_py_environment(fs: PyEnvironmentFieldSet, distdir: DistDir) -> BuiltPackage:
    locked = await Get(LockedEnvironment, PyEnvironmentFieldSet, fs)
    digest = await Get(Digest, RemovePrefix(locked.digest, distdir.relpath.as_posix()))
    out = project_dir(locked.project.codops, locked.project.environment)
    return BuiltPackage(digest, (BuiltPackageArtifact(f"{out}/pyproject.toml"), BuiltPackageArtifact(f"{out}/uv.lock")))


# ---------------------------------------------------------------------------------------------
# One codops
# ---------------------------------------------------------------------------------------------


@rule(desc="Package a peach codops", level=LogLevel.DEBUG)
async def package_codops(fs: PeachCodopsFieldSet) -> BuiltPackage:
    targets = await Get(Targets, DependenciesRequest(fs.dependencies))
    env_field_sets = [PyEnvironmentFieldSet.create(t) for t in targets if PyEnvironmentFieldSet.is_applicable(t)]
    built = await MultiGet(Get(BuiltPackage, EnvironmentAwarePackageRequest(f)) for f in env_field_sets)
    projects = await MultiGet(Get(EnvironmentProject, PyEnvironmentFieldSet, f) for f in env_field_sets)
    codops = fs.codops.value
    environments = {p.environment: (p.requirements, project_dir(codops, p.environment)) for p in projects}
    endpoints, tasks = [], []
    for t in targets:
        if t.has_field(UrlField):
            env = t[EnvironmentNameField].value
            for component in t[ComponentsField].value or ():
                name, notebook, method, full = _parse_component(component)
                endpoints.append({"endpoint": t[EndpointNameField].value, "component": name, "url": t[UrlField].value,
                                  "notebook": notebook, "method": method, "full_notebook": full,
                                  "environment": env, "project_dir": project_dir(codops, env)})
        elif t.has_field(TaskNameField):
            env = t[EnvironmentNameField].value
            tasks.append({"task": t[TaskNameField].value, "notebook": t[NotebookField].value,
                          "method": t[MethodField].value, "full_notebook": t[FullNotebookField].value,
                          "environment": env, "project_dir": project_dir(codops, env)})
    summary_path = f"{PROJECTS_DIR}/{codops}/environments.json"
    summary = await Get(Digest, CreateDigest([
        FileContent(summary_path, render_environments_json(codops, environments, endpoints, tasks).encode())
    ]))
    digest = await Get(Digest, MergeDigests([summary, *(b.digest for b in built)]))
    artifacts = [BuiltPackageArtifact(summary_path), *(a for b in built for a in b.artifacts)]
    return BuiltPackage(digest, tuple(artifacts))


def _parse_component(text: str) -> Tuple[str, str, str, bool]:
    """`name: notebook:method[ (full notebook)]`, as `peach_config` writes ComponentsField entries."""
    full = text.endswith(" (full notebook)")
    if full:
        text = text[: -len(" (full notebook)")]
    name, _, rest = text.partition(": ")
    notebook, _, method = rest.rpartition(":")
    return name, notebook, method, full


def rules():
    return [
        *collect_rules(),
        *UvTool.rules(),
        UnionRule(PackageFieldSet, PyEnvironmentFieldSet),
        UnionRule(PackageFieldSet, PeachCodopsFieldSet),
    ]
