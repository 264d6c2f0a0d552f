"""The `package` rules, run with canned locks: what each writes, `environments.json`, and what
`lock-changes.json` compares a lock with."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Dict, List

import pytest
from pants.base.build_root import BuildRoot
from pants.core.goals.package import (
    BuiltPackage,
    BuiltPackageArtifact,
    EnvironmentAwarePackageRequest,
)
from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, MergeDigests
from pants.engine.rules import QueryRule
from pants.engine.target import DependenciesRequest, Targets, WrappedTarget, WrappedTargetRequest
from pants.testutil.rule_runner import MockGet, RuleRunner, run_rule_with_mocks

from peach import generate, read_configs, register
from peach.config.decorators import DecoratedFunction
from peach.config.errors import PackagingError
from peach.config.requirements import Provenance
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.lock_test import IMAGE, lock_text, project
from peach.goals.package import (
    PeachAllFieldSet,
    PeachCodopsFieldSet,
    PyEnvironmentFieldSet,
    SizeBudgets,
    SizeRequest,
    environment_changes,
    package_all,
    package_codops,
    package_py_environment,
)
from peach.insight.sizes import EnvironmentSize, environment_size, parse_budgets
from peach.target_types import (
    ALL_CODOPS_NAME,
    ComponentRecord,
    PeachAllDependenciesField,
    PeachAllTarget,
    PeachCodopsTarget,
    PeachEndpointTarget,
    PeachTaskTarget,
    PyEnvironmentTarget,
)
from peach.uv.runner import FILE_URL_TOKEN


def environment_target(name: str) -> PyEnvironmentTarget:
    return PyEnvironmentTarget(
        {"codops": "zzebu", "environment": name, "requirements": ["pipe-algorithms-lib==1.1.0", "six"],
         "config_files": ["zzebu/peach.conf/app.yaml"],
         "provenance": [Provenance("pipe-algorithms-lib==1.1.0", "pipe-algorithms-lib", "injected", "[peach].injected"),
                        Provenance("six", "six", "environment", "zzebu/peach.conf/app.yaml:7")]},
        Address("zzebu/peach.conf", target_name=name),
    )


def sized(lock: str, six_size: int) -> str:
    """The lock with a wheel of `six_size` bytes recorded for six (its last package)."""
    return lock + f'wheels = [{{ url = "https://files.example.invalid/six-1.17.0-py2.py3-none-any.whl", size = {six_size} }}]\n'


NO_BUDGETS = SizeBudgets(())
SIZE = MockGet(EnvironmentSize, (SizeRequest,), lambda r: environment_size(r.lock, IMAGE.platforms, IMAGE.python_version))


ENDPOINT = PeachEndpointTarget(
    {"codops": "zzebu", "endpoint": "recommend", "url": "/recommend", "environment": "ml",
     "components": [ComponentRecord("main", "zzebu/nb/rec.ipynb", "recommend", False),
                    ComponentRecord("fallback", "zzebu/nb/rules.ipynb", "", True)]},
    Address("zzebu/peach.conf", target_name="endpoint-recommend"),
)
TASK = PeachTaskTarget(
    {"codops": "zzebu", "task": "retrain", "notebook": "zzebu/nb/train.ipynb", "method": "train",
     "full_notebook": False, "environment": "base"},
    Address("zzebu/peach.conf", target_name="task-retrain"),
)
DECORATED = DecoratedFunction("zzebu/nb/rec.ipynb", 2, 3, "recommend", "peach", "ml")
CODOPS = PeachCodopsTarget({"codops": "zzebu", "decorated": [DECORATED]}, Address("zzebu/peach.conf", target_name="zzebu"))


def locked(environment: str, lock: str, committed_lock: str = None) -> LockedEnvironment:
    the_project = project(environment)
    return LockedEnvironment(the_project, the_project.pyproject(), lock, (),
                             "3rdparty/peach/locks/zzebu/ml/uv.lock" if committed_lock else None, committed_lock)


def digest_of(name: str) -> Digest:
    """A stand-in digest, distinct for each name."""
    return Digest(hashlib.sha256(name.encode()).hexdigest(), len(name))


class Digests:
    """A fake `CreateDigest`: every file written, by path; the digest it answers names its paths.
    And a fake `MergeDigests` that records what it merges."""

    def __init__(self) -> None:
        self.files: Dict[str, bytes] = {}
        self.merged: List[MergeDigests] = []

    def create(self, request: CreateDigest) -> Digest:
        for entry in request:
            self.files[entry.path] = entry.content
        return digest_of(" ".join(entry.path for entry in request))

    def merge(self, request: MergeDigests) -> Digest:
        self.merged.append(request)
        return digest_of(f"merged {len(self.merged)}")


@pytest.fixture
def buildroot(tmp_path: Path) -> BuildRoot:
    root = BuildRoot()
    with root.temporary(str(tmp_path)):
        yield root


def test_an_environment_ships_its_pyproject_and_its_lock_pointed_at_this_checkout(buildroot: BuildRoot) -> None:
    lock = lock_text().replace("http://127.0.0.1:8081/simple", f"{FILE_URL_TOKEN}/example/private-index")
    digests = Digests()
    built = run_rule_with_mocks(
        package_py_environment,
        rule_args=[PyEnvironmentFieldSet.create(environment_target("ml")), buildroot, IMAGE, NO_BUDGETS],
        mock_gets=[
            MockGet(LockedEnvironment, (LockEnvironmentRequest,), lambda r: locked(r.request.environment, lock)),
            SIZE,
            MockGet(Digest, (CreateDigest,), digests.create),
        ],
    )
    assert [a.relpath for a in built.artifacts] == ["peach/zzebu/ml/pyproject.toml", "peach/zzebu/ml/uv.lock"]
    assert digests.files["peach/zzebu/ml/pyproject.toml"] == project("ml").pyproject()
    written = digests.files["peach/zzebu/ml/uv.lock"].decode()
    assert f'registry = "file://{buildroot.path}/example/private-index"' in written
    assert FILE_URL_TOKEN not in written


def run_codops(locks: Dict[str, LockedEnvironment], budgets: SizeBudgets = NO_BUDGETS) -> Digests:
    targets = Targets([environment_target("base"), environment_target("ml"), ENDPOINT, TASK])
    digests = Digests()
    packaged: List[str] = []

    def package(request: EnvironmentAwarePackageRequest) -> BuiltPackage:
        packaged.append(request.field_set.environment.value)
        return BuiltPackage(digest_of(f"project {request.field_set.environment.value}"), ())

    built = run_rule_with_mocks(
        package_codops,
        rule_args=[PeachCodopsFieldSet.create(CODOPS), budgets],
        mock_gets=[
            SIZE,
            MockGet(Targets, (DependenciesRequest,), lambda _: targets),
            MockGet(BuiltPackage, (EnvironmentAwarePackageRequest,), package),
            MockGet(LockedEnvironment, (LockEnvironmentRequest,), lambda r: locks[r.request.environment]),
            MockGet(Digest, (CreateDigest,), digests.create),
            MockGet(Digest, (MergeDigests,), digests.merge),
        ],
    )
    assert built.artifacts == (BuiltPackageArtifact(
        "peach/zzebu", extra_log_lines=("    environments.json, lock-changes.json and the projects base, ml",)),)
    # The codops' package holds its two files and each of its environments' projects.
    assert packaged == ["base", "ml"]
    summary = digest_of("peach/zzebu/environments.json peach/zzebu/lock-changes.json")
    assert digests.merged == [MergeDigests([summary, digest_of("project base"), digest_of("project ml")])]
    assert built.digest == digest_of("merged 1")
    return digests


def test_environments_json_lists_environments_endpoints_tasks_and_decorated_functions() -> None:
    locks = {"base": locked("base", lock_text()), "ml": locked("ml", sized(lock_text(), 11_053))}
    budgets = SizeBudgets(parse_budgets({"zzebu/ml": "1GiB"}))
    document = json.loads(run_codops(locks, budgets).files["peach/zzebu/environments.json"])
    unknown = {"bytes": 0, "packages": {"pipe-algorithms-lib": None, "six": None}, "unknown": ["pipe-algorithms-lib", "six"]}
    known = {"bytes": 11_053, "packages": {"pipe-algorithms-lib": None, "six": 11_053}, "unknown": ["pipe-algorithms-lib"]}
    assert document == {
        "codops": "zzebu",
        "environments": {
            "base": {"project_dir": "peach/zzebu/base", "requirements": ["pipe-algorithms-lib==1.1.0", "six"],
                     "size": {"kind": "download", "platforms": {"x86_64-manylinux_2_28": unknown}, "budget": None}},
            "ml": {"project_dir": "peach/zzebu/ml", "requirements": ["pipe-algorithms-lib==1.1.0", "six"],
                   "size": {"kind": "download", "platforms": {"x86_64-manylinux_2_28": known},
                            "budget": {"bytes": 1 << 30, "pattern": "zzebu/ml"}}},
        },
        "endpoints": [
            {"endpoint": "recommend", "component": "fallback", "url": "/recommend", "notebook": "zzebu/nb/rules.ipynb",
             "method": "", "full_notebook": True, "environment": "ml", "project_dir": "peach/zzebu/ml"},
            {"endpoint": "recommend", "component": "main", "url": "/recommend", "notebook": "zzebu/nb/rec.ipynb",
             "method": "recommend", "full_notebook": False, "environment": "ml", "project_dir": "peach/zzebu/ml"},
        ],
        "tasks": [{"task": "retrain", "notebook": "zzebu/nb/train.ipynb", "method": "train", "full_notebook": False,
                   "environment": "base", "project_dir": "peach/zzebu/base"}],
        "decorated": [{"notebook": "zzebu/nb/rec.ipynb", "cell": 2, "line": 3, "function": "recommend",
                       "decorator": "peach", "environment": "ml", "project_dir": "peach/zzebu/ml"}],
    }


def test_lock_changes_compare_with_the_committed_lockfile_and_log_one_line_per_changed_environment(
    caplog: pytest.LogCaptureFixture
) -> None:
    locks = {"base": locked("base", lock_text(), committed_lock=lock_text()),
             "ml": locked("ml", sized(lock_text(six="1.17.0"), 3072),
                          committed_lock=sized(lock_text(six="1.16.0"), 1024))}
    with caplog.at_level(logging.INFO):
        digests = run_codops(locks)
    changes = json.loads(digests.files["peach/zzebu/lock-changes.json"])["environments"]
    assert changes["zzebu/base"]["summary"] == "no changes"
    assert changes["zzebu/ml"]["summary"] == "1 changed"
    assert changes["zzebu/ml"]["baseline"] == "3rdparty/peach/locks/zzebu/ml/uv.lock"
    assert changes["zzebu/ml"]["changed"] == [{"name": "six", "old": "1.16.0", "new": "1.17.0"}]
    assert changes["zzebu/ml"]["size"] == {"x86_64-manylinux_2_28": {"before": 1024, "after": 3072, "change": 2048}}
    assert changes["zzebu/base"]["size"] == {"x86_64-manylinux_2_28": {"before": 0, "after": 0, "change": 0}}
    logged: List[str] = [r.getMessage() for r in caplog.records]
    assert [line for line in logged if line.startswith("zzebu/")] == [
        "zzebu/ml: 1 changed (six 1.16.0 -> 1.17.0); size +2.0 KiB to 3.0 KiB"]


def test_without_a_committed_lockfile_nothing_is_compared_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    locks = {"base": locked("base", lock_text()), "ml": locked("ml", lock_text(six="1.17.0"))}
    with caplog.at_level(logging.INFO):
        digests = run_codops(locks)
    changes = json.loads(digests.files["peach/zzebu/lock-changes.json"])["environments"]
    assert changes["zzebu/ml"] == {"baseline": None, "summary": "not compared: no committed lockfile",
                                   "added": [], "removed": [], "changed": [],
                                   "requirements": {"added": [], "removed": []}}
    assert not [r for r in caplog.records if r.getMessage().startswith("zzebu/")]


def test_changes_are_against_the_committed_lockfile() -> None:
    env = locked("ml", lock_text(six="1.17.0"), committed_lock=lock_text(six="1.15.0"))
    assert environment_changes(env).changed == (("six", "1.15.0", "1.17.0"),)


def test_the_lock_change_log_names_every_package_when_there_are_few() -> None:
    from peach.goals.package import LOGGED_CHANGES
    from peach.insight.changes import summary_line
    from peach.uv.lockfile import LockChanges

    added = (("anyio", "4.0.0"), ("h11", "0.14.0"), ("httpcore", "1.0.0"), ("httpx", "0.27.0"), ("sniffio", "1.3.0"))
    line = summary_line("acme/ml", LockChanges(added=added, removed=(), changed=()), items=LOGGED_CHANGES)
    assert "more" not in line
    assert all(f"+{name} {version}" in line for name, version in added)


def test_an_environment_over_its_budget_fails_naming_the_config_line(buildroot: BuildRoot) -> None:
    lock = sized(lock_text(), 2_000_000)

    def package(budgets: dict) -> BuiltPackage:
        return run_rule_with_mocks(
            package_py_environment,
            rule_args=[PyEnvironmentFieldSet.create(environment_target("ml")), buildroot, IMAGE,
                       SizeBudgets(parse_budgets(budgets))],
            mock_gets=[
                MockGet(LockedEnvironment, (LockEnvironmentRequest,), lambda r: locked(r.request.environment, lock)),
                SIZE,
                MockGet(Digest, (CreateDigest,), Digests().create),
            ],
        )

    assert package({"zzebu/ml": "2MB"}).artifacts  # exactly at the budget
    assert package({"debr/*": "1MB"}).artifacts  # another codops' budget
    with pytest.raises(PackagingError) as error:
        package({"zzebu/*": "1MB"})
    message = str(error.value)
    assert message.startswith("environment `zzebu/ml` is over its size budget on x86_64-manylinux_2_28: 1.9 MiB "
                              "(2,000,000 bytes) against 976.6 KiB (`[peach].size_budgets`: `zzebu/*` = `1MB`)")
    assert "1.9 MiB  six 1.17.0  <- six (environment, zzebu/peach.conf/app.yaml:7)" in message


def test_no_committed_lockfile_is_no_comparison() -> None:
    assert environment_changes(locked("ml", lock_text())) is None


def test_an_unchanged_lock_has_no_changes() -> None:
    assert environment_changes(locked("ml", lock_text(), committed_lock=lock_text())).empty


# ---------------------------------------------------------------------------------------------------
# `_all`: the codops of its own `peach_config`
# ---------------------------------------------------------------------------------------------------

TWO_CONFIGS = {
    "3rdparty/peach/framework-stack.txt": "ray[serve]==2.60.0\n",
    "left/BUILD": "peach_config(name='peach')",
    "left/zzebu/peach.yaml": "codops: zzebu\npy_environments:\n  base: {dependencies: [six]}\n",
    "left/debr/peach.yaml": "codops: debr\npy_environments:\n  base: {dependencies: [six]}\n",
    "right/BUILD": "peach_config(name='peach')",
    "right/nlno/peach.yaml": "codops: nlno\npy_environments:\n  base: {dependencies: [six]}\n",
}


def package_all_of(all_target, dependencies) -> List[str]:
    """The codops `package_all` packages for `all_target`, whose dependencies are `dependencies`;
    checks that its package is the merge of theirs."""
    packaged: List[str] = []
    digests = Digests()

    def package(request: EnvironmentAwarePackageRequest) -> BuiltPackage:
        packaged.append(request.field_set.codops.value)
        return BuiltPackage(digest_of(f"codops {request.field_set.codops.value}"), ())

    built = run_rule_with_mocks(
        package_all,
        rule_args=[PeachAllFieldSet.create(all_target)],
        mock_gets=[
            MockGet(Targets, (DependenciesRequest,), lambda _: Targets(dependencies)),
            MockGet(BuiltPackage, (EnvironmentAwarePackageRequest,), package),
            MockGet(Digest, (MergeDigests,), digests.merge),
        ],
    )
    assert built.artifacts[0].relpath == "peach"
    assert built.artifacts[0].extra_log_lines == (f"    codops {', '.join(sorted(packaged))}",)
    assert digests.merged == [MergeDigests([digest_of(f"codops {c}") for c in packaged])]
    assert built.digest == digest_of("merged 1")
    return packaged


def test_all_packages_the_codops_it_depends_on_and_nothing_else() -> None:
    all_target = PeachAllTarget({"dependencies": [":zzebu"]}, Address("left", target_name="peach",
                                                                        generated_name="_all"))
    assert package_all_of(all_target, [CODOPS, environment_target("ml")]) == ["zzebu"]


def test_two_peach_configs_package_each_codops_once() -> None:
    """Each `_all` depends on its own config's codops (real target generation), so packaging both
    (what `package ::` does) packages every codops once."""
    runner = RuleRunner(
        rules=[*read_configs.rules(), *generate.rules(), QueryRule(Targets, [DependenciesRequest]), QueryRule(WrappedTarget,
                                                                                       [WrappedTargetRequest])],
        target_types=register.target_types(),
    )
    runner.write_files(TWO_CONFIGS)
    runner.set_options(["--peach-framework-stack=3rdparty/peach/framework-stack.txt"])
    packaged: List[str] = []
    for config in ("left", "right"):
        address = Address(config, target_name="peach", generated_name=ALL_CODOPS_NAME)
        all_target = runner.request(WrappedTarget, [WrappedTargetRequest(address, "test")]).target
        dependencies = runner.request(Targets, [DependenciesRequest(all_target[PeachAllDependenciesField])])
        packaged.extend(package_all_of(all_target, list(dependencies)))
    assert sorted(packaged) == ["debr", "nlno", "zzebu"]
