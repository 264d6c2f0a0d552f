"""The rules that make an environment's project and find the latest private releases, run with
canned lookups and canned uv results."""
from __future__ import annotations

from pathlib import PurePath
from typing import List

import pytest
from pants.core.util_rules.distdir import DistDir
from pants.engine.fs import (
    EMPTY_DIGEST,
    EMPTY_FILE_DIGEST,
    CreateDigest,
    Digest,
    MergeDigests,
)
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.config.errors import PackagingError
from peach.environments.index import LatestRelease, LatestReleaseRequest, latest_release
from peach.environments.lock_test import IMAGE, SETUP, peach
from peach.environments.project import EnvironmentRequest, environment_project, lock_owner
from peach.uv.tool import UvProcess, UvTool

REQUEST = EnvironmentRequest(
    "zzebu", "ml", ("pipe-algorithms-lib", "pipe-core[fast]; python_version >= '3.8'", "pipe-extra==0.9", "six"),
    ("zzebu/peach.conf/app.yaml",))


def make_project(latest: dict):
    looked_up: List[str] = []

    def lookup(request: LatestReleaseRequest) -> LatestRelease:
        looked_up.append(request.package)
        return LatestRelease(request.package, latest[request.package])

    result = run_rule_with_mocks(
        environment_project,
        rule_args=[REQUEST, SETUP, peach(public_index="", python_version="3.11"), create_subsystem(UvTool),
                   DistDir(PurePath("dist")), IMAGE],
        mock_gets=[MockGet(LatestRelease, (LatestReleaseRequest,), lookup)],
    )
    return result, looked_up


def test_bare_private_packages_are_pinned_to_their_latest_release() -> None:
    project, looked_up = make_project({"pipe-algorithms-lib": "1.2.0", "pipe-core": "2.0.0"})
    assert looked_up == ["pipe-algorithms-lib", "pipe-core"]  # not the pinned one, not the public one
    assert project.requirements == (
        "pipe-algorithms-lib==1.2.0", 'pipe-core[fast]==2.0.0; python_version >= "3.8"', "pipe-extra==0.9", "six")
    assert project.spec.private_names == ("pipe-algorithms-lib", "pipe-core", "pipe-extra")
    assert project.dir == "dist/peach/zzebu/ml"
    assert project.index_in_lock == SETUP.location


def process_result(exit_code: int, stdout: str = "", stderr: str = "") -> FallibleProcessResult:
    return FallibleProcessResult(stdout.encode(), EMPTY_FILE_DIGEST, stderr.encode(), EMPTY_FILE_DIGEST, exit_code,
                                 EMPTY_DIGEST, None)


def lookup(result: FallibleProcessResult):
    processes: List[UvProcess] = []

    def run(process: UvProcess) -> FallibleProcessResult:
        processes.append(process)
        return result

    found = run_rule_with_mocks(
        latest_release,
        rule_args=[LatestReleaseRequest("pipe-algorithms-lib"), SETUP, peach(index_timeout=3), IMAGE],
        mock_gets=[
            MockGet(Digest, (CreateDigest,), lambda _: EMPTY_DIGEST),
            MockGet(Digest, (MergeDigests,), lambda _: EMPTY_DIGEST),
            MockGet(FallibleProcessResult, (UvProcess,), run),
        ],
    )
    return found, processes


def test_the_latest_final_release_is_what_uv_resolves_on_the_private_index_alone() -> None:
    found, [process] = lookup(process_result(0, stdout="pipe-algorithms-lib==1.2.0\n"))
    assert found == LatestRelease("pipe-algorithms-lib", "1.2.0")
    argv = " ".join(process.argv)
    assert "--no-deps" in argv and "--prerelease disallow" in argv
    assert "--refresh-package pipe-algorithms-lib" in argv
    assert f"--index-url {SETUP.location}" in argv
    assert process.cache_scope == ProcessCacheScope.PER_SESSION  # a new release counts at the next build
    assert process.http_timeout == 3
    assert process.http_retries == 0  # an unreachable index fails within the timeout, once


def test_a_failed_lookup_says_why_in_words() -> None:
    stderr = ("error: No solution found when resolving dependencies\n  cause: Because there are no versions of "
              "pipe-algorithms-lib and you require pipe-algorithms-lib, we can conclude that your requirements "
              "are unsatisfiable.")
    with pytest.raises(PackagingError) as error:
        lookup(process_result(1, stderr=stderr))
    assert str(error.value).startswith(
        f"cannot pin pipe-algorithms-lib to its latest release: the private index {SETUP.location} has no final "
        "release of pipe-algorithms-lib")


def test_the_gateway_lock_owner_is_base() -> None:
    gateway = EnvironmentRequest("c", "gateway", ("six", "tqdm"), ("c/peach.yaml",))
    assert lock_owner(gateway, "gateway") == EnvironmentRequest("c", "base", ("six", "tqdm"), ("c/peach.yaml",))
    for alone in ("base", "ml", "codops-gateway"):
        request = EnvironmentRequest("c", alone, ("six", "tqdm"), ("c/peach.yaml",))
        assert lock_owner(request, "gateway") == request
