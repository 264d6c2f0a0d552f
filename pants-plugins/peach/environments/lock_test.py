"""The rule that locks one environment, run with canned uv results: which lock ships, the staleness
policy of a committed lockfile, the platform check and the dependency-confusion audit.

Each test says what uv "answered"; the rule's decisions are checked without running uv.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional

import pytest
from pants.engine.fs import EMPTY_DIGEST, DigestContents, FileContent, PathGlobs
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

from peach.config.errors import PackagingError
from peach.environments.index import PrivateIndexSetup
from peach.environments.lock import (
    LockedEnvironment,
    LockEnvironmentRequest,
    PlatformResolution,
    PlatformResolutionRequest,
    UvLockRequest,
    FreshLock,
    FreshLockRequest,
    UvLockResult,
    fresh_lock,
    lock_environment,
)
from peach.environments.platforms import ImagePlatforms
from peach.environments.project import (
    EnvironmentProject,
    EnvironmentRequest,
    KnownEnvironments,
)
from peach.subsystem import PeachSubsystem, StaleLockfileBehavior
from peach.uv.lockfile import DependencyMetadata, Installed
from peach.uv.platforms import parse_platform
from peach.uv.pyproject import PrivateIndex, ProjectSpec

PRIVATE_URL = "http://127.0.0.1:8081/simple"
PUBLIC_URL = "https://public.example.invalid/simple"
LINUX = parse_platform("x86_64-manylinux_2_28")
IMAGE = ImagePlatforms((LINUX,), "3.11")
SETUP = PrivateIndexSetup(PRIVATE_URL, "private", None, False)
COMMITTED_PATH = "3rdparty/peach/zzebu/ml/uv.lock"


def lock_text(six: str = "1.17.0", private_registry: str = PRIVATE_URL) -> str:
    return f"""\
version = 1
revision = 3
requires-python = "==3.11.*"

[[package]]
name = "peach-zzebu-ml"
version = "0.0.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "pipe-algorithms-lib" }},
    {{ name = "six" }},
]

[[package]]
name = "pipe-algorithms-lib"
version = "1.1.0"
source = {{ registry = "{private_registry}" }}

[[package]]
name = "six"
version = "{six}"
source = {{ registry = "{PUBLIC_URL}" }}
"""


def project(environment: str = "ml") -> EnvironmentProject:
    request = EnvironmentRequest("zzebu", environment, ("pipe-algorithms-lib==1.1.0", "six"),
                                 ("zzebu/peach.conf/app.yaml",))
    spec = ProjectSpec(
        codops="zzebu", environment=environment, requirements=request.requirements, requires_python="==3.11.*",
        uv_version="0.13.9", platforms=IMAGE.markers, index=PrivateIndex("private", PRIVATE_URL, False),
        private_names=("pipe-algorithms-lib",), config_files=request.config_files,
    )
    return EnvironmentProject(request, spec, f"dist/peach/zzebu/{environment}", PRIVATE_URL, EMPTY_DIGEST)


def peach(**options) -> PeachSubsystem:
    defaults = dict(stale_lockfile=StaleLockfileBehavior.error, align_environments=False, gateway_environment="gateway",
                    private_packages=["pipe-*"], lockfile_dir="3rdparty/peach")
    return create_subsystem(PeachSubsystem, **{**defaults, **options})


class FakeUv:
    """uv's answers: `uv lock` gives `fresh` from scratch, and `relocked` when started from a lock;
    a platform installs `installs`, but the versions its constraints pin. Every request is recorded."""

    def __init__(self, fresh: str, relocked: Optional[str] = None, installs: Optional[Dict[str, str]] = None):
        self.fresh, self.relocked = fresh, relocked
        self.installs = installs or {"pipe-algorithms-lib": "1.1.0", "six": "1.17.0"}
        self.locks: List[UvLockRequest] = []
        self.resolutions: List[PlatformResolutionRequest] = []
        self.fresh_locks: List[FreshLockRequest] = []

    def lock(self, request: UvLockRequest) -> UvLockResult:
        self.locks.append(request)
        if request.existing is not None and self.relocked is not None:
            return UvLockResult(self.relocked)
        return UvLockResult(self.fresh)

    def resolve(self, request: PlatformResolutionRequest) -> PlatformResolution:
        self.resolutions.append(request)
        pinned = dict(c.split("==") for c in request.constraints)
        return PlatformResolution(request.platform, FrozenDict(
            {name: Installed(pinned.get(name, version), ()) for name, version in self.installs.items()}))


def run_lock(uv: FakeUv, subsystem: PeachSubsystem, committed: Optional[str] = None, fresh: bool = False,
             environment: str = "ml", known: Optional[KnownEnvironments] = None,
             base_lock: Optional[str] = None) -> LockedEnvironment:
    the_project = project(environment)
    files = DigestContents([FileContent(COMMITTED_PATH, committed.encode())] if committed is not None else [])

    def committed_contents(globs: PathGlobs) -> DigestContents:
        assert globs.globs == (f"3rdparty/peach/zzebu/{environment}/uv.lock",)
        return files

    def base(request: LockEnvironmentRequest) -> LockedEnvironment:
        assert request.request.environment == "base"
        assert base_lock is not None
        return LockedEnvironment(project("base"), b"", base_lock, (), None)

    shared = [
        MockGet(EnvironmentProject, (EnvironmentRequest,),
                lambda r: the_project if r == the_project.request else project(r.environment)),
        MockGet(KnownEnvironments, (), lambda: known or KnownEnvironments(FrozenDict())),
        MockGet(LockedEnvironment, (LockEnvironmentRequest,), base),
        MockGet(UvLockResult, (UvLockRequest,), uv.lock),
        MockGet(PlatformResolution, (PlatformResolutionRequest,), uv.resolve),
    ]

    def made(request: FreshLockRequest) -> FreshLock:
        uv.fresh_locks.append(request)
        return run_rule_with_mocks(fresh_lock, rule_args=[request, SETUP, subsystem, IMAGE], mock_gets=shared)

    return run_rule_with_mocks(
        lock_environment,
        rule_args=[LockEnvironmentRequest(the_project.request, fresh), SETUP, subsystem, IMAGE],
        mock_gets=[
            *(m for m in shared if m.output_type not in (LockedEnvironment, KnownEnvironments)),
            MockGet(DigestContents, (PathGlobs,), committed_contents),
            MockGet(FreshLock, (FreshLockRequest,), made),
        ],
    )


def test_without_a_committed_lockfile_the_fresh_lock_ships() -> None:
    uv = FakeUv(lock_text())
    locked = run_lock(uv, peach())
    assert locked.lock == lock_text()
    assert locked.committed is None and locked.committed_lock is None
    assert [r.existing for r in uv.locks] == [None]  # one `uv lock`, from scratch
    assert [r.platform.name for r in uv.resolutions] == ["x86_64-manylinux_2_28"]
    # Sized from the lock it parsed (no second read): what the platform installs, package by package.
    (size,) = locked.size.platforms
    assert size.platform == "x86_64-manylinux_2_28"
    assert [(p.name, p.version) for p in size.packages] == [("pipe-algorithms-lib", "1.1.0"), ("six", "1.17.0")]


def test_a_current_committed_lockfile_ships_as_it_is() -> None:
    # six 1.17.0 is out, the committed lock keeps 1.16.0 (the requirements allow it): the platforms
    # are checked with the lock's versions, so a newer release does not make the lock disagree.
    committed = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(six="1.17.0"), relocked=committed)
    locked = run_lock(uv, peach(), committed=committed)
    assert locked.lock == committed
    assert locked.committed == COMMITTED_PATH and locked.committed_lock == committed
    assert [(r.existing, r.purpose) for r in uv.locks] == [(committed.encode(), "check")]
    assert [r.constraints for r in uv.resolutions] == [("pipe-algorithms-lib==1.1.0", "six==1.16.0")]


def test_a_committed_lockfile_is_checked_with_the_metadata_it_records() -> None:
    committed = lock_text().replace("[[package]]", """[[manifest.dependency-metadata]]
name = "six"
version = "1.17.0"
requires-dist = ["typing-extensions==4.12.2 ; platform_machine == 'x86_64' and sys_platform == 'linux'"]

[[package]]""", 1)
    uv = FakeUv(lock_text(), relocked=committed)
    locked = run_lock(uv, peach(), committed=committed)
    assert locked.lock == committed
    expected = (DependencyMetadata("six", "1.17.0", (
        "typing-extensions==4.12.2 ; platform_machine == 'x86_64' and sys_platform == 'linux'",)),)
    assert [r.metadata for r in uv.locks] == [expected]
    assert locked.metadata == expected and b"[[tool.uv.dependency-metadata]]" in locked.pyproject


def test_a_stale_committed_lockfile_is_an_error_that_names_the_change_and_the_fix() -> None:
    committed = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(), relocked=lock_text(six="1.17.0"))
    with pytest.raises(PackagingError) as error:
        run_lock(uv, peach(), committed=committed)
    message = str(error.value)
    assert f"The committed lockfile {COMMITTED_PATH} of environment `zzebu/ml` is stale" in message
    assert "six 1.16.0 -> 1.17.0" in message
    assert "pants generate-lockfiles --resolve=peach/zzebu/ml" in message
    assert "`[peach].stale_lockfile` to `warn`" in message
    assert [r.existing for r in uv.locks] == [committed.encode()]  # nothing more once it is stale


def test_stale_lockfile_warn_ships_the_lock_made_from_it_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """As `uv lock` in a uv project: the committed versions stay where the requirements allow, in one lock."""
    committed = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(six="1.18.0"), relocked=lock_text(six="1.17.0"))
    with caplog.at_level(logging.WARNING):
        locked = run_lock(uv, peach(stale_lockfile=StaleLockfileBehavior.warn), committed=committed)
    assert locked.lock == lock_text(six="1.17.0")
    assert "is stale" in caplog.text and "Packaging that lock (made from the committed one) instead." in caplog.text
    assert [(r.existing, r.purpose) for r in uv.locks] == [(committed.encode(), "check")]
    assert [r.constraints for r in uv.resolutions] == [("pipe-algorithms-lib==1.1.0", "six==1.17.0")]


def test_stale_lockfile_ignore_ships_the_lock_made_from_it_silently(caplog: pytest.LogCaptureFixture) -> None:
    committed = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(six="1.18.0"), relocked=lock_text(six="1.17.0"))
    with caplog.at_level(logging.WARNING):
        locked = run_lock(uv, peach(stale_lockfile=StaleLockfileBehavior.ignore), committed=committed)
    assert locked.lock == lock_text(six="1.17.0")
    assert "stale" not in caplog.text
    assert len(uv.locks) == 1


class DisagreesOnSix117(FakeUv):
    """The platform's own resolution of six 1.17.0 pulls in a package the universal lock lacks."""

    def resolve(self, request: PlatformResolutionRequest) -> PlatformResolution:
        resolution = super().resolve(request)
        if "six==1.17.0" not in request.constraints:
            return resolution
        packages = {**resolution.packages, "six": Installed("1.17.0", ("certifi",)), "certifi": Installed("2024.1.1", ())}
        return PlatformResolution(resolution.platform, FrozenDict(packages))


def test_a_stale_lockfile_whose_relock_the_platforms_disagree_with_gets_a_fresh_lock() -> None:
    committed = lock_text(six="1.16.0")
    uv = DisagreesOnSix117(lock_text(six="1.18.0"), relocked=lock_text(six="1.17.0"))
    locked = run_lock(uv, peach(stale_lockfile=StaleLockfileBehavior.ignore), committed=committed)
    assert locked.lock == lock_text(six="1.18.0")
    assert [(r.existing, r.purpose) for r in uv.locks] == [(committed.encode(), "check"), (None, "")]


def test_generate_lockfiles_ignores_the_committed_lockfile_and_never_caches() -> None:
    committed = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(six="1.17.0"), relocked=committed)
    locked = run_lock(uv, peach(), committed=committed, fresh=True)
    assert locked.lock == lock_text(six="1.17.0")
    assert locked.committed_lock == committed  # for `[generate-lockfiles].diff`
    assert [(r.existing, r.fresh) for r in uv.locks] == [(None, True)]
    assert all(r.fresh for r in uv.resolutions)


def test_a_private_package_from_another_index_fails_the_audit() -> None:
    planted = lock_text(private_registry="http://127.0.0.1:8082/simple")
    with pytest.raises(PackagingError) as error:
        run_lock(FakeUv(planted), peach())
    assert str(error.value) == (
        "environment `zzebu/ml`: DEPENDENCY CONFUSION: pipe-algorithms-lib==1.1.0 comes from "
        "http://127.0.0.1:8082/simple, not the private index http://127.0.0.1:8081/simple. The lockfile was not written."
    )


def test_a_committed_lockfile_is_audited_too() -> None:
    planted = lock_text(private_registry="http://127.0.0.1:8082/simple")
    uv = FakeUv(lock_text(), relocked=planted)
    with pytest.raises(PackagingError, match="DEPENDENCY CONFUSION"):
        run_lock(uv, peach(), committed=planted)


def test_a_lock_that_disagrees_with_a_platform_gets_metadata_and_is_locked_again() -> None:
    # The platform installs `typing-extensions` with six: the lock lacks it. peach declares six's
    # metadata and locks again; uv's second answer must then agree.
    fixed = lock_text().replace('source = { registry = "https://public.example.invalid/simple" }\n',
                                'source = { registry = "https://public.example.invalid/simple" }\n'
                                'dependencies = [{ name = "typing-extensions" }]\n') + (
        '\n[[package]]\nname = "typing-extensions"\nversion = "4.12.2"\n'
        f'source = {{ registry = "{PUBLIC_URL}" }}\n')

    class Uv(FakeUv):
        def lock(self, request: UvLockRequest) -> UvLockResult:
            self.locks.append(request)
            return UvLockResult(fixed if request.metadata else lock_text())

        def resolve(self, request: PlatformResolutionRequest) -> PlatformResolution:
            self.resolutions.append(request)
            return PlatformResolution(request.platform, FrozenDict({
                "pipe-algorithms-lib": Installed("1.1.0", ()), "six": Installed("1.17.0", ("typing-extensions",)),
                "typing-extensions": Installed("4.12.2", ())}))

    uv = Uv(lock_text())
    locked = run_lock(uv, peach())
    assert locked.lock == fixed
    assert [m.name for m in locked.metadata] == ["six"]
    assert locked.metadata[0].requires_dist == (f"typing-extensions==4.12.2 ; {LINUX.marker}",)
    assert b"[[tool.uv.dependency-metadata]]" in locked.pyproject
    assert [(bool(r.metadata), r.existing) for r in uv.locks] == [(False, None), (True, lock_text().encode())]


def test_a_lock_that_still_disagrees_fails_without_writing() -> None:
    # The platform installs colorama, which nothing in the lock pulls in: no metadata explains it.
    uv = FakeUv(lock_text(), installs={"colorama": "0.4.6", "pipe-algorithms-lib": "1.1.0", "six": "1.17.0"})
    with pytest.raises(PackagingError) as error:
        run_lock(uv, peach())
    assert "the lock does not match what the image's platforms install" in str(error.value)
    assert "x86_64-manylinux_2_28: missing colorama==0.4.6" in str(error.value)
    assert "The lockfile was not written." in str(error.value)


def test_align_environments_starts_a_named_environment_from_the_base_lock() -> None:
    base_request = EnvironmentRequest("zzebu", "base", ("pipe-algorithms-lib==1.1.0",), ())
    known = KnownEnvironments(FrozenDict({"peach/zzebu/base": base_request}))
    base_lock = lock_text(six="1.16.0")
    uv = FakeUv(lock_text(six="1.17.0"), relocked=base_lock)
    locked = run_lock(uv, peach(align_environments=True), known=known, base_lock=base_lock)
    assert locked.lock == base_lock
    assert [(r.existing, r.purpose) for r in uv.locks] == [(base_lock.encode(), "aligned with base")]


def test_align_environments_leaves_base_itself_alone() -> None:
    uv = FakeUv(lock_text())
    run_lock(uv, peach(align_environments=True), environment="base")
    assert [r.existing for r in uv.locks] == [None]


class NamesTheProject(FakeUv):
    """uv's lock names the project it locked."""

    def lock(self, request: UvLockRequest) -> UvLockResult:
        self.locks.append(request)
        return UvLockResult(lock_text().replace("peach-zzebu-ml", request.project.request.id.project_name))


def test_the_gateway_ships_base_lock_renamed_without_a_uv_process_of_its_own() -> None:
    base, gateway = project("base").request, project("gateway").request
    uv = NamesTheProject(lock_text())
    locked = run_lock(uv, peach(), environment="gateway")
    # One lock, made for base: the gateway's is that lock with the gateway's name in its place.
    assert [r.request for r in uv.fresh_locks] == [base]
    assert [r.project.request for r in uv.locks] == [base]
    assert [r.project.request for r in uv.resolutions] == [base]
    assert locked.lock == lock_text().replace('name = "peach-zzebu-ml"', 'name = "peach-zzebu-gateway"')
    assert locked.project.request == gateway and b'name = "peach-zzebu-gateway"' in locked.pyproject
    # base itself, and any other environment, ships its own lock, unrenamed.
    for environment in ("base", "ml"):
        uv = NamesTheProject(lock_text())
        assert run_lock(uv, peach(), environment=environment).lock == lock_text().replace(
            "peach-zzebu-ml", f"peach-zzebu-{environment}")
        assert [r.request.environment for r in uv.fresh_locks] == [environment]


def test_a_lock_the_gateway_cannot_take_is_an_error_not_a_traceback() -> None:
    class NoRoot(FakeUv):
        def lock(self, request: UvLockRequest) -> UvLockResult:
            self.locks.append(request)
            return UvLockResult(lock_text().replace('source = { virtual = "." }', 'source = { editable = "src" }'))

    with pytest.raises(PackagingError) as error:
        run_lock(NoRoot(lock_text()), peach(), environment="gateway")
    assert str(error.value) == (
        "environment `zzebu/gateway`: the lock of `zzebu/base` cannot be shipped under its name (the lock has no "
        "root project `peach-zzebu-base`). Report it with both environments' pyproject.toml.")
