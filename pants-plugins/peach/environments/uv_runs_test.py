"""The two rules of `environments/lock.py` that run uv: `run_uv_lock` (one `uv lock`) and
`resolve_for_platform` (`uv pip compile` for one platform, offline first, online when the offline
answer is not certain to be the online one), with what each caches."""
from __future__ import annotations

from typing import Dict, List, Tuple

import pytest
from pants.engine.fs import (
    EMPTY_DIGEST,
    EMPTY_FILE_DIGEST,
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    MergeDigests,
)
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.config.errors import PackagingError
from peach.environments.explain import ResolutionFailure, ResolutionFailureMessage
from peach.environments.lock import (
    PlatformResolutionRequest,
    UvLockRequest,
    resolve_for_platform,
    run_uv_lock,
)
from peach.environments.lock_test import IMAGE, LINUX, SETUP, lock_text, project
from peach.uv.lockfile import Installed
from peach.uv.platforms import Override
from peach.uv.tool import UvProcess

PINNED = ("pipe-algorithms-lib==1.1.0", "six==1.17.0")
COMPILED = "pipe-algorithms-lib==1.1.0  # via peach-zzebu-ml (pyproject.toml)\nsix==1.17.0  # via peach-zzebu-ml (pyproject.toml)\n"
OUTPUT = Digest("5" * 64, 5)


def result(exit_code: int, stdout: str = "", stderr: str = "", output: Digest = EMPTY_DIGEST) -> FallibleProcessResult:
    return FallibleProcessResult(stdout.encode(), EMPTY_FILE_DIGEST, stderr.encode(), EMPTY_FILE_DIGEST, exit_code,
                                 output, None)


class Recorder:
    """uv's answers, offline and online, and every process and file the rule asked for."""

    def __init__(self, offline: FallibleProcessResult, online: FallibleProcessResult) -> None:
        self.offline, self.online = offline, online
        self.processes: List[UvProcess] = []
        self.files: List[FileContent] = []
        self.merged: List[MergeDigests] = []
        self.failures: List[ResolutionFailure] = []

    def run(self, process: UvProcess) -> FallibleProcessResult:
        self.processes.append(process)
        return self.offline if "--offline" in process.argv else self.online

    def create(self, request: CreateDigest) -> Digest:
        self.files.extend(request)
        return Digest("1" * 64, 1)

    def merge(self, request: MergeDigests) -> Digest:
        self.merged.append(request)
        return Digest("2" * 64, 2)

    def explain(self, failure: ResolutionFailure) -> ResolutionFailureMessage:
        self.failures.append(failure)
        return ResolutionFailureMessage("explained")

    def gets(self, reads_output: bool = False) -> List[MockGet]:
        """The rule's Gets; `run_uv_lock` also reads its process's output."""
        return [MockGet(Digest, (CreateDigest,), self.create), MockGet(Digest, (MergeDigests,), self.merge),
                MockGet(FallibleProcessResult, (UvProcess,), self.run),
                MockGet(ResolutionFailureMessage, (ResolutionFailure,), self.explain),
                *([MockGet(DigestContents, (Digest,),
                           lambda d: DigestContents([FileContent("dist/peach/zzebu/ml/uv.lock", b"locked")]
                                                    if d == OUTPUT else []))] if reads_output else [])]


def resolve(uv: Recorder, fresh: bool = False, constraints: Tuple[str, ...] = PINNED,
            overrides: Tuple[Override, ...] = ()) -> Dict[str, Installed]:
    request = PlatformResolutionRequest(project(), LINUX, fresh, overrides, constraints)
    resolution = run_rule_with_mocks(resolve_for_platform, rule_args=[request, SETUP, IMAGE], mock_gets=uv.gets())
    assert resolution.platform == LINUX
    return dict(resolution.packages)


def modes(uv: Recorder) -> List[Tuple[bool, ProcessCacheScope]]:
    """Each process run: offline or not, and its cache scope."""
    return [("--offline" in p.argv, p.cache_scope) for p in uv.processes]


def test_an_offline_answer_with_every_package_pinned_stands_and_nothing_runs_online() -> None:
    uv = Recorder(result(0, COMPILED), result(1, stderr="must not run"))
    assert resolve(uv) == {"pipe-algorithms-lib": Installed("1.1.0", ()), "six": Installed("1.17.0", ())}
    assert modes(uv) == [(True, ProcessCacheScope.SUCCESSFUL)]
    (offline,) = uv.processes
    assert offline.argv[:4] == ("pip", "compile", "--directory", "dist/peach/zzebu/ml")
    assert ("--python-platform", LINUX.name) == offline.argv[offline.argv.index("--python-platform"):][:2]
    assert ("--python-version", "3.11") == offline.argv[offline.argv.index("--python-version"):][:2]
    # The constraints reach uv as a file in the project, named on its command line.
    assert FileContent("dist/peach/zzebu/ml/.peach-constraints.txt", b"pipe-algorithms-lib==1.1.0\nsix==1.17.0\n") \
        in uv.files
    assert offline.argv[offline.argv.index("--constraints") + 1] == ".peach-constraints.txt"
    assert uv.merged == [MergeDigests([Digest("1" * 64, 1), project().index_files])]


def test_a_failed_offline_attempt_falls_back_to_uv_online() -> None:
    online = COMPILED.replace("six==1.17.0", "six==1.16.0")
    uv = Recorder(result(1, stderr="no cached wheel for six"), result(0, online))
    assert resolve(uv)["six"] == Installed("1.16.0", ())
    assert modes(uv) == [(True, ProcessCacheScope.SUCCESSFUL), (False, ProcessCacheScope.SUCCESSFUL)]
    offline, online_run = uv.processes
    assert offline.argv == (*online_run.argv, "--offline")
    assert offline.input_digest == online_run.input_digest == Digest("2" * 64, 2)


def test_an_offline_answer_with_an_unpinned_package_is_checked_online() -> None:
    # certifi is pinned by nothing: offline, uv took whatever version its cache had.
    offline = COMPILED + "certifi==2020.1.1  # via six\n"
    uv = Recorder(result(0, offline), result(0, COMPILED + "certifi==2024.1.1  # via six\n"))
    assert resolve(uv)["certifi"] == Installed("2024.1.1", ())
    assert modes(uv) == [(True, ProcessCacheScope.SUCCESSFUL), (False, ProcessCacheScope.SUCCESSFUL)]


def test_an_override_pins_a_package_for_the_offline_answer_too() -> None:
    override = Override("pipe-algorithms-lib", "http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-py3-none-any.whl")
    uv = Recorder(result(0, COMPILED), result(1, stderr="must not run"))
    resolve(uv, constraints=("six==1.17.0",), overrides=(override,))
    assert modes(uv) == [(True, ProcessCacheScope.SUCCESSFUL)]
    (offline,) = uv.processes
    assert offline.relocated_inputs == ("dist/peach/zzebu/ml/.peach-overrides.txt",)
    assert FileContent("dist/peach/zzebu/ml/.peach-overrides.txt", f"{override}\n".encode()) in uv.files


def test_generate_lockfiles_caches_neither_attempt() -> None:
    uv = Recorder(result(1), result(0, COMPILED))
    resolve(uv, fresh=True)
    assert modes(uv) == [(True, ProcessCacheScope.PER_SESSION), (False, ProcessCacheScope.PER_SESSION)]


def test_a_platform_that_uv_cannot_resolve_online_fails_naming_it() -> None:
    uv = Recorder(result(1), result(2, stderr="error: Failed to fetch: connection refused"))
    with pytest.raises(PackagingError) as error:
        resolve(uv)
    assert str(error.value).startswith(
        f"uv could not lock environment `zzebu/ml` for the platform {LINUX.name} (private index: {SETUP.shown})")
    uv = Recorder(result(1), result(1, stderr="  × No solution found when resolving dependencies:\n  ╰─▶ six\n"))
    with pytest.raises(PackagingError, match="^explained$"):
        resolve(uv)
    assert [(f.platform, f.request) for f in uv.failures] == [(LINUX.name, project().request)]


def lock(uv: Recorder, **options) -> str:
    return run_rule_with_mocks(run_uv_lock, rule_args=[UvLockRequest(project(), **options), SETUP],
                               mock_gets=uv.gets(reads_output=True)).lock


def test_uv_lock_runs_once_in_the_project_and_its_success_is_cached() -> None:
    uv = Recorder(result(1), result(0, output=OUTPUT))
    assert lock(uv, purpose="check", existing=lock_text().encode()) == "locked"
    (process,) = uv.processes
    assert (process.argv, process.output_files, process.lock) == (
        ("lock", "--directory", "dist/peach/zzebu/ml"), ("dist/peach/zzebu/ml/uv.lock",), "dist/peach/zzebu/ml/uv.lock")
    assert process.cache_scope == ProcessCacheScope.SUCCESSFUL
    assert process.description == "uv lock zzebu/ml (check)"
    # The lock to start from is in the project, next to its pyproject.toml.
    assert [f.path for f in uv.files] == ["dist/peach/zzebu/ml/pyproject.toml", "dist/peach/zzebu/ml/uv.lock"]
    assert uv.files[1].content == lock_text().encode()


def test_generate_lockfiles_locks_anew_every_run() -> None:
    uv = Recorder(result(1), result(0, output=OUTPUT))
    lock(uv, fresh=True)
    (process,) = uv.processes
    assert process.cache_scope == ProcessCacheScope.PER_SESSION
    assert process.description == "uv lock zzebu/ml (generate-lockfiles)"
    assert [f.path for f in uv.files] == ["dist/peach/zzebu/ml/pyproject.toml"]


def test_a_failed_uv_lock_is_explained_or_reported_with_uv_s_words() -> None:
    with pytest.raises(PackagingError, match=r"uv could not lock environment `zzebu/ml` \(private index: .*\n\nerror: boom"):
        lock(Recorder(result(1), result(2, stderr="error: boom\n")))
    uv = Recorder(result(1), result(1, stderr="No solution found when resolving dependencies:\n six\n"))
    with pytest.raises(PackagingError, match="^explained$"):
        lock(uv)
    assert [(f.platform, f.request) for f in uv.failures] == [("", project().request)]
