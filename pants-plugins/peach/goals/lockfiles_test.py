"""The `generate-lockfiles` rules, run with canned locks: resolve names, where each lockfile goes,
a fresh lock, and `[generate-lockfiles].diff`."""
from __future__ import annotations

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.lock_test import lock_text, peach, project
from peach.environments.project import KnownEnvironments
from peach.goals.lockfiles import (
    GeneratePeachLockfile,
    KnownPeachResolveNamesRequest,
    RequestedPeachResolveNames,
    generate_peach_lockfile,
    known_peach_resolves,
    plan_peach_lockfiles,
)

KNOWN = KnownEnvironments(FrozenDict({
    "peach/zzebu/ml": project("ml").request,
    "peach/zzebu/base": project("base").request,
}))


def test_every_environment_is_a_resolve() -> None:
    known = run_rule_with_mocks(known_peach_resolves, rule_args=[KnownPeachResolveNamesRequest(), KNOWN])
    assert known.names == ("peach/zzebu/base", "peach/zzebu/ml")
    assert known.requested_resolve_names_cls is RequestedPeachResolveNames


def test_each_lockfile_goes_to_the_lockfile_dir() -> None:
    planned = run_rule_with_mocks(
        plan_peach_lockfiles, rule_args=[RequestedPeachResolveNames(["peach/zzebu/ml"]), KNOWN, peach()])
    assert [(r.resolve_name, r.lockfile_dest, r.environment) for r in planned] == [
        ("peach/zzebu/ml", "3rdparty/peach/zzebu/ml/uv.lock", project("ml").request)]


def generate(old: str, new: str, diff: bool):
    requests = []
    written = {}

    def lock(request: LockEnvironmentRequest) -> LockedEnvironment:
        requests.append(request)
        return LockedEnvironment(project("ml"), b"", new, (), "3rdparty/peach/zzebu/ml/uv.lock" if old else None,
                                 old or None)

    def create(request: CreateDigest) -> Digest:
        written.update({f.path: f.content for f in request})
        return EMPTY_DIGEST

    result = run_rule_with_mocks(
        generate_peach_lockfile,
        rule_args=[GeneratePeachLockfile("peach/zzebu/ml", "3rdparty/peach/zzebu/ml/uv.lock", diff,
                                         project("ml").request)],
        mock_gets=[MockGet(LockedEnvironment, (LockEnvironmentRequest,), lock),
                   MockGet(Digest, (CreateDigest,), create)],
    )
    assert [r.fresh for r in requests] == [True]  # resolved anew, whatever is committed
    assert written == {"3rdparty/peach/zzebu/ml/uv.lock": new.encode()}
    return result


def test_the_lockfile_is_a_fresh_lock_and_the_diff_says_what_changed() -> None:
    result = generate(lock_text(six="1.16.0"), lock_text(six="1.17.0"), diff=True)
    assert result.resolve_name == "peach/zzebu/ml" and result.path == "3rdparty/peach/zzebu/ml/uv.lock"
    assert {name: (str(old), str(new)) for name, (old, new) in result.diff.upgraded.items()} == {
        "six": ("1.16.0", "1.17.0")}
    assert not result.diff.downgraded and not result.diff.added and not result.diff.removed


def test_a_first_lockfile_diff_adds_every_package() -> None:
    result = generate("", lock_text(), diff=True)
    assert sorted(result.diff.added) == ["pipe-algorithms-lib", "six"]


def test_without_diff_there_is_none() -> None:
    assert generate(lock_text(six="1.16.0"), lock_text(), diff=False).diff is None
