from __future__ import annotations

import json

from peach.insight.changes import lock_changes_json, render_lock_changes, summary_line
from peach.uv.lockfile import changes, lock_changes, parse_lock
from peach.uv.lockfile_test import ROOTED

ML = changes({"torch": "2.0.0", "six": "1.16.0", "numpy": "1.26.4"},
             {"torch": "2.0.1", "numpy": "1.26.4", "filelock": "3.13.0", "triton": "2.0.0"},
             ["torch==2.0.0"], ["torch==2.0.1"])


def test_lock_changes_json_per_environment() -> None:
    text = render_lock_changes({"ml": ML, "base": changes({"a": "1"}, {"a": "1"})},
                               {"ml": "locks/ml/uv.lock", "base": "locks/base/uv.lock"})
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data["environments"]) == ["base", "ml"]
    assert data["environments"]["base"] == {"baseline": "locks/base/uv.lock", "summary": "no changes", "added": [], "removed": [], "changed": [],
                                            "requirements": {"added": [], "removed": []}}
    assert data["environments"]["ml"] == {
        "baseline": "locks/ml/uv.lock",
        "summary": "2 added, 1 removed, 1 changed",
        "added": [{"name": "filelock", "version": "3.13.0"}, {"name": "triton", "version": "2.0.0"}],
        "removed": [{"name": "six", "version": "1.16.0"}],
        "changed": [{"name": "torch", "old": "2.0.0", "new": "2.0.1"}],
        "requirements": {"added": ["torch==2.0.1"], "removed": ["torch==2.0.0"]},
    }
    assert list(data["environments"]["ml"]) == ["baseline", "summary", "added", "removed", "changed", "requirements"]
    assert render_lock_changes({"ml": ML}) == json.dumps(lock_changes_json({"ml": ML}), indent=2) + "\n"


def test_an_environment_without_a_committed_lockfile_is_not_compared() -> None:
    data = lock_changes_json({"ml": None}, {"ml": None})
    assert data["environments"]["ml"] == {"baseline": None, "summary": "not compared: no committed lockfile",
                                          "added": [], "removed": [], "changed": [],
                                          "requirements": {"added": [], "removed": []}}


def test_summary_line() -> None:
    assert summary_line("zzebu/ml", ML) == (
        "zzebu/ml: 2 added, 1 removed, 1 changed (torch 2.0.0 -> 2.0.1, +filelock 3.13.0, +triton 2.0.0, and 1 more)")
    assert summary_line("zzebu/ml", ML, items=10) == (
        "zzebu/ml: 2 added, 1 removed, 1 changed (torch 2.0.0 -> 2.0.1, +filelock 3.13.0, +triton 2.0.0, "
        "-six 1.16.0)")
    assert summary_line("zzebu/base", changes({}, {})) == "zzebu/base: no changes"
    only_requirements = changes({"a": "1"}, {"a": "1"}, ["a"], ["a>=1"])
    assert summary_line("zzebu/etl", only_requirements) == (
        "zzebu/etl: the same packages, from other requirements (+a>=1, -a)")


def test_from_two_locks() -> None:
    old = parse_lock(ROOTED)
    new = parse_lock(ROOTED.replace('name = "torch"\nversion = "2.0.0"', 'name = "torch"\nversion = "2.0.1"'))
    assert summary_line("zzebu/ml", lock_changes(old, new)) == "zzebu/ml: 1 changed (torch 2.0.0 -> 2.0.1)"


def test_size_changes_in_the_json_and_the_log_line() -> None:
    from peach.insight.sizes import SizeChange

    grown = {"ml": (SizeChange("x86_64-manylinux_2_28", 1 << 30, (1 << 30) + 3 * (1 << 20)),)}
    data = json.loads(render_lock_changes({"ml": ML, "base": changes({}, {})}, sizes=grown))
    assert data["environments"]["ml"]["size"] == {
        "x86_64-manylinux_2_28": {"before": 1 << 30, "after": (1 << 30) + 3 * (1 << 20), "change": 3 * (1 << 20)}}
    assert "size" not in data["environments"]["base"]
    assert summary_line("zzebu/ml", ML, grown["ml"]).endswith("and 1 more); size +3.0 MiB to 1.0 GiB")
    two = (SizeChange("x86_64-manylinux_2_28", 2048, 1024), SizeChange("aarch64-manylinux_2_28", 0, 0))
    assert summary_line("zzebu/base", changes({}, {}), two) == (
        "zzebu/base: no changes; size x86_64-manylinux_2_28: -1.0 KiB to 1.0 KiB; aarch64-manylinux_2_28: +0 B to 0 B")
