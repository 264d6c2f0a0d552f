"""The import-check rule, run with canned uv results: the process it asks for, the report, an
install failure, and an environment skipped by the option."""
from __future__ import annotations

import json
from typing import Dict, List, Optional

from pants.core.goals.test import ShowOutput, TestResult, TestSubsystem
from pants.engine.addresses import Address
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
from pants.testutil.option_util import create_goal_subsystem, create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.config.requirements import Provenance
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.lock_test import lock_text, project
from peach.goals.importcheck import (
    ImportCheckFieldSet,
    ImportCheckRequest,
    ImportCheckSubsystem,
    run_import_check,
    skipped,
)
from peach.target_types import PyEnvironmentTarget
from peach.uv.tool import UvProcess

TARGET = PyEnvironmentTarget(
    {"codops": "zzebu", "environment": "ml", "requirements": ["pipe-algorithms-lib==1.1.0", "six"],
     "config_files": ["zzebu/peach.conf/app.yaml"],
     "provenance": [Provenance("pipe-algorithms-lib==1.1.0", "pipe-algorithms-lib", "injected",
                               "[peach].injected_requirements"),
                    Provenance("six", "six", "environment", "zzebu/peach.conf/app.yaml:7")]},
    Address("", target_name="peach", generated_name="zzebu/ml"),
)

RESULT = {"python": "3.11.7", "installed": 2, "packages": [
    {"package": "pipe-algorithms-lib", "status": "ok", "version": "1.1.0",
     "modules": [{"module": "pipe_algorithms_lib", "failures": [], "stderr": []}]},
    {"package": "six", "status": "fail", "version": "1.17.0",
     "modules": [{"module": "six", "failures": ["warning: UserWarning: moved (six.py:3)"], "stderr": []}]},
]}


def _run(exit_code: int, outputs: Dict[str, bytes], skip: Optional[List[str]] = None, stderr: str = ""):
    processes: List[UvProcess] = []
    files: Dict[str, bytes] = {}

    def create(request: CreateDigest) -> Digest:
        files.update({entry.path: entry.content for entry in request})
        return EMPTY_DIGEST

    def run(process: UvProcess) -> FallibleProcessResult:
        processes.append(process)
        return FallibleProcessResult(b"checked 2 package(s)", EMPTY_FILE_DIGEST, stderr.encode(), EMPTY_FILE_DIGEST,
                                     exit_code, EMPTY_DIGEST, None)

    the_project = project("ml")
    locked = LockedEnvironment(the_project, the_project.pyproject(), lock_text(), (), None)
    check = create_subsystem(ImportCheckSubsystem, skip=False, skip_environments=skip or [],
                             ignored_warnings=["DeprecationWarning"], import_timeout=60,
                             skip_modules=["nvfuser"], smoke_checks={"Six": "import six; six.moves", "torch": "x"})
    test = create_goal_subsystem(TestSubsystem, output=ShowOutput.FAILED, force=False)
    batch = ImportCheckRequest.Batch("peach-import-check", (ImportCheckFieldSet.create(TARGET),), None)
    result: TestResult = run_rule_with_mocks(
        run_import_check,
        rule_args=[batch, test, check],
        mock_gets=[
            MockGet(LockedEnvironment, (LockEnvironmentRequest,), lambda _: locked),
            MockGet(Digest, (CreateDigest,), create),
            MockGet(Digest, (MergeDigests,), lambda _: EMPTY_DIGEST),
            MockGet(FallibleProcessResult, (UvProcess,), run),
            MockGet(DigestContents, (Digest,),
                    lambda _: DigestContents([FileContent(p, c) for p, c in outputs.items()])),
        ],
    )
    return result, processes, files


def test_installs_the_lock_and_runs_the_checker_with_the_package_names_only() -> None:
    result, (process,), files = _run(1, {".peach-import-check/result.json": json.dumps(RESULT).encode()})
    assert process.argv == ("run", "--locked", "--directory", "dist/peach/zzebu/ml")
    assert process.command == ("python", "../../../../.peach-import-check/checker.py",
                               "../../../../.peach-import-check/input.json", "../../../../.peach-import-check/result.json")
    assert process.lock == "dist/peach/zzebu/ml/uv.lock" and process.cache_scope == ProcessCacheScope.SUCCESSFUL
    # The config lines are not inputs: moving a line does not check an unchanged lock again.
    assert json.loads(files[".peach-import-check/input.json"]) == {
        "packages": ["pipe-algorithms-lib", "six"], "ignored_warnings": ["DeprecationWarning"], "timeout": 60,
        "skip_modules": ["nvfuser"], "smoke": {"six": "import six; six.moves"}}
    assert files["dist/peach/zzebu/ml/uv.lock"] == lock_text().encode()
    assert b"def render_report" in files[".peach-import-check/checker.py"]
    assert result.exit_code == 1
    assert ("FAIL six 1.17.0 (the locked version installed)\n"
            "  declared: `six` (environment, zzebu/peach.conf/app.yaml:7)\n"
            "  import six:\n"
            "    warning: UserWarning: moved (six.py:3)\n"
            "  why this version: pants peach-why --peach-why-package=six //:peach#zzebu/ml\n") in result.stdout


def test_an_install_failure_reports_the_environment_and_uvs_message() -> None:
    result, _, _ = _run(2, {}, stderr="error: Failed to download `six==1.17.0`\n  Caused by: 404 Not Found\n")
    assert result.exit_code == 2
    assert result.stdout.startswith("environment `zzebu/ml`: the lock could not be installed")
    assert "  | error: Failed to download `six==1.17.0`\n  |   Caused by: 404 Not Found\n" in result.stdout


def test_a_result_the_checker_did_not_write_fails_the_check_with_a_report_not_a_traceback() -> None:
    for content in (b'{"python": "3.11.7", "packa', json.dumps({"python": "3.11.7"}).encode()):
        result, _, _ = _run(0, {".peach-import-check/result.json": content}, stderr="Killed\n")
        assert result.exit_code == 1, content
        assert result.stdout.startswith("environment `zzebu/ml`: the import check's result could not be read ("), content
        assert "  | Killed\n" in result.stdout and "pants test --force //:peach#zzebu/ml" in result.stdout


def test_a_skipped_environment_runs_nothing() -> None:
    result, processes, _ = _run(0, {}, skip=["*/ml"])
    assert processes == [] and result.exit_code is None


def test_skip_patterns() -> None:
    assert skipped("zzebu/ml", ["zzebu/ml"]) and skipped("zzebu/ml", ["zzebu/*"]) and skipped("zzebu/ml", ["*/ml"])
    assert not skipped("zzebu/mlops", ["zzebu/ml"]) and not skipped("debr/ml", ["zzebu/*"])
