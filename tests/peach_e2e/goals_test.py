"""peach-show, peach-why, peach-drift, lock-changes.json, tailor and generate-lockfiles' diff, on
real locks of the example repo (this repo's example codops, locked against PyPI)."""
from __future__ import annotations

import json
import re
import shutil
from typing import Dict, Set

import pytest

from legacy_configs.corpus_test import CASES, migrated, settings
from peach.config import build_model
from peach_e2e.repo import Checkout, Run

ML = "//:peach#zzebu/ml"


def ok(run: Run) -> Run:
    assert run.returncode == 0, run.stderr
    assert "Traceback (most recent call last)" not in run.stderr
    return run


@pytest.fixture(scope="module")
def packaged(example: Checkout) -> Checkout:
    ok(example.pants("package", "::"))
    return example


def test_show_lists_every_locked_package_with_where_it_comes_from(packaged: Checkout) -> None:
    text = ok(packaged.pants("peach-show", ML)).stdout
    # How many packages PyPI gives the unpinned ones changes with the day; what the configs decide does
    # not: the direct requirements are exactly the environment's final requirement list (`peek`), and
    # the total is direct + transitive and agrees with the JSON rows below.
    summary = re.search(r"^zzebu/ml: (\d+) packages \((\d+) direct, (\d+) transitive\)$", text, re.MULTILINE)
    assert summary, text
    total, direct, transitive = (int(n) for n in summary.groups())
    (peeked,) = json.loads(ok(packaged.pants("peek", ML)).stdout)
    assert direct == len(peeked["requirements"]) and total == direct + transitive, text
    # Rows: name, version, download size, kind, where from.
    assert re.search(r"^\s+torch\s+2\.0\.0\s+[\d.]+ [KMG]?i?B\s+direct\s+torch==2\.0\s+\(environment, "
                     r"example/zzebu/peach\.conf/environments\.yaml:10\)", text, re.MULTILINE), text
    assert re.search(r"^\s+nvidia-cublas-cu11\s+11\.10\.3\.66\s+[\d.]+ [KMG]?i?B\s+transitive\s+via torch", text,
                     re.MULTILINE), text
    rows = json.loads(ok(packaged.pants("peach-show", "--peach-show-format=json", ML)).stdout)
    (ml,) = rows
    by_name = {r["name"]: r for r in ml["packages"]}
    assert len(by_name) == total and sum(r["direct"] for r in ml["packages"]) == direct
    assert by_name["triton"]["direct"] is False and by_name["triton"]["pulled_in_by"] == ["torch"]
    assert by_name["pipe-algorithms-lib"]["tier"] == "injected"
    lock = packaged.read("dist/peach/zzebu/ml/uv.lock")
    assert by_name["transformers"]["version"] in lock
    # A codops stands for all of its environments.
    everything = json.loads(ok(packaged.pants("peach-show", "--peach-show-format=json", "//:peach#debr")).stdout)
    assert sorted(e["environment"] for e in everything) == ["base", "codops-gateway", "reporting"]


def test_why_explains_a_package_and_answers_for_a_missing_one(packaged: Checkout) -> None:
    text = ok(packaged.pants("peach-why", "--peach-why-package=Triton", ML)).stdout
    assert "triton 2.0.0 is a transitive dependency of zzebu/ml" in text
    assert re.search(r"^\s+torch -> triton$", text, re.MULTILINE), text
    text = ok(packaged.pants("peach-why", "--peach-why-package=orjson", ML)).stdout
    assert "orjson 3.10.0 is a direct requirement of zzebu/ml" in text
    assert "example/zzebu/peach.conf/environments.yaml:6" in text
    run = packaged.pants("peach-why", "--peach-why-package=pytorch", ML)
    assert run.returncode == 1
    assert "pytorch is not in zzebu/ml; did you mean torch?" in run.stdout
    run = packaged.pants("peach-why", ML)
    assert run.returncode == 1 and "--peach-why-package=<name>" in run.stderr


def test_sizes_and_a_size_budget(packaged: Checkout) -> None:
    # torch==2.0 pins torch 2.0.0, whose x86_64 wheel pins its CUDA packages: released files whose sizes
    # the lock records, so these facts are the config's, whatever else PyPI serves today.
    (ml,) = json.loads(ok(packaged.pants("peach-show", "--peach-show-format=json", "--peach-show-sort=size", ML)).stdout)
    sizes = [r["size"] for r in ml["packages"] if r["size"] is not None]
    assert sizes == sorted(sizes, reverse=True) and ml["size"]["bytes"] == sum(sizes)
    by_name = {r["name"]: r for r in ml["packages"]}
    assert by_name["torch"]["size_file"] == "torch-2.0.0-cp311-cp311-manylinux1_x86_64.whl"
    assert by_name["torch"]["size"] > 500 * 2**20 and by_name["nvidia-cudnn-cu11"]["size"] > 500 * 2**20
    environments = json.loads(packaged.read("dist/peach/zzebu/environments.json"))["environments"]
    assert environments["ml"]["size"]["platforms"]["x86_64-manylinux_2_28"]["bytes"] == ml["size"]["bytes"]
    (torch,) = json.loads(ok(packaged.pants("peach-why", "--peach-why-format=json", "--peach-why-package=torch",
                                            ML)).stdout)
    assert {"nvidia-cudnn-cu11", "triton", "torch"} <= set(torch["exclusive"])
    assert torch["removal_saves"] == torch["exclusive_size"] >= by_name["torch"]["size"] + by_name["nvidia-cudnn-cu11"]["size"]

    before = packaged.read("dist/peach/zzebu/environments.json")
    run = packaged.pants("--peach-size-budgets={'zzebu/ml': '1GiB'}", "package", "::")
    assert run.returncode != 0 and "Traceback (most recent call last)" not in run.stderr
    assert "environment `zzebu/ml` is over its size budget on x86_64-manylinux_2_28" in run.stderr
    assert "against 1.0 GiB (`[peach].size_budgets`: `zzebu/ml` = `1GiB`)" in run.stderr
    torch_line = "<- torch==2.0 (environment, example/zzebu/peach.conf/environments.yaml:10)"
    assert re.search(r"torch 2\.0\.0  " + re.escape(torch_line), run.stderr), run.stderr
    assert re.search(r"nvidia-cudnn-cu11 8\.5\.0\.96  " + re.escape(torch_line), run.stderr), run.stderr
    assert packaged.read("dist/peach/zzebu/environments.json") == before  # a failed build writes nothing


def test_drift_marks_intended_and_drifting_packages(packaged: Checkout) -> None:
    report = json.loads(ok(packaged.pants("peach-drift", "--peach-drift-format=json", "::")).stdout)
    assert {c["codops"] for c in report["codops"]} >= {"zzebu"}
    for codops in report["codops"]:
        for package in codops["packages"]:
            assert package["status"] in ("intended", "drift")
            assert len({e["version"] for e in package["environments"]}) > 1
    # zzebu/ml pins numpy<2 (torch 2.0.0 needs NumPy 1.x); its other environments get NumPy 2 through implicit.
    (zzebu,) = [c for c in report["codops"] if c["codops"] == "zzebu"]
    assert {p["name"]: p["status"] for p in zzebu["packages"]}.get("numpy") == "intended", zzebu
    run = packaged.pants("peach-drift", "--peach-drift-fail", "::")
    assert run.returncode == (1 if report["drift_count"] else 0), run.stdout
    text = ok(packaged.pants("peach-drift", "::")).stdout
    assert "zzebu" in text


def test_a_bad_address_is_one_clear_error(packaged: Checkout) -> None:
    run = packaged.pants("peach-show", "//:peach#zzebu/nope")
    assert run.returncode != 0
    assert "zzebu/nope" in run.stderr and "Traceback (most recent call last)" not in run.stderr


def test_lock_changes_against_the_committed_lockfile(packaged: Checkout) -> None:
    changes = json.loads(packaged.read("dist/peach/zzebu/lock-changes.json"))["environments"]
    assert sorted(changes) == ["zzebu/base", "zzebu/codops-gateway", "zzebu/ml"]
    # No committed lockfile: nothing to compare with (the previous build is not an input).
    assert all(e["baseline"] is None and e["summary"] == "not compared: no committed lockfile"
               for e in changes.values())
    config = "example/zzebu/peach.conf/environments.yaml"
    lockfile = "3rdparty/peach/locks/zzebu/ml/uv.lock"
    original = packaged.read(config)
    try:
        ok(packaged.pants("generate-lockfiles", "--resolve=peach/zzebu/ml"))
        # tabulate 0.9.0 has no dependencies and nothing in the example pulls it in: exactly one package
        # added, whatever PyPI serves on the day.
        packaged.write({config: original.replace("      - numpy<2\n", "      - numpy<2\n      - tabulate==0.9.0\n")})
        # The committed lockfile is now stale: re-locked (warn), and compared with.
        run = ok(packaged.pants("--peach-stale-lockfile=warn", "package", "::"))
    finally:
        packaged.write({config: original})
        shutil.rmtree(packaged.path / "3rdparty/peach/locks", ignore_errors=True)
    assert re.search(r"zzebu/ml: 1 added \(\+tabulate [^)]*\); size \+[\d.]+ (B|KiB|MiB) to \d", run.stderr), run.stderr
    changes = json.loads(packaged.read("dist/peach/zzebu/lock-changes.json"))["environments"]
    assert changes["zzebu/ml"]["baseline"] == lockfile
    assert [a["name"] for a in changes["zzebu/ml"]["added"]] == ["tabulate"]
    assert changes["zzebu/ml"]["size"]["x86_64-manylinux_2_28"]["change"] > 0
    assert changes["zzebu/base"]["baseline"] is None
    ok(packaged.pants("package", "::"))  # back to the committed configs


def test_generate_lockfiles_diff(packaged: Checkout) -> None:
    config = "example/debr/peach.yaml"
    original = packaged.read(config)
    try:
        ok(packaged.pants("generate-lockfiles", "--resolve=peach/debr/reporting"))
        # pytz is in no lock of the example (a package already pulled in, like six, changes no version).
        edited = original.replace("      - tabulate>=0.9\n", "      - tabulate>=0.9\n      - pytz\n")
        assert edited != original and "pytz" not in packaged.read("3rdparty/peach/locks/debr/reporting/uv.lock")
        packaged.write({config: edited})
        run = ok(packaged.pants("generate-lockfiles", "--resolve=peach/debr/reporting", "--generate-lockfiles-diff"))
        assert "Lockfile diff: 3rdparty/peach/locks/debr/reporting/uv.lock [peach/debr/reporting]" in run.stderr
        assert re.search(r"Added dependencies\s*==\s+pytz\s+\d", run.stderr), run.stderr
        run = ok(packaged.pants("generate-lockfiles", "--resolve=peach/debr/reporting", "--generate-lockfiles-diff"))
        assert "Lockfile diff" not in run.stderr  # nothing changed, nothing to show
    finally:
        packaged.write({config: original})
        shutil.rmtree(packaged.path / "3rdparty/peach/locks", ignore_errors=True)


def test_tailor(example: Checkout) -> None:
    ok(example.pants("tailor", "--check", "::"))
    example.write({"elsewhere/team/peach.conf/envs.yaml": "codops: zzebu\n"})
    try:
        run = example.pants("tailor", "--check", "::")
        assert run.returncode != 0
        assert "Would create elsewhere/team/BUILD" in run.stdout + run.stderr
        assert "peach_config target peach" in run.stdout + run.stderr
    finally:
        shutil.rmtree(example.path / "elsewhere")


def test_migrate_rewrites_legacy_configs_that_block_every_other_command(example: Checkout) -> None:
    from peach_e2e.repo import repo_root

    case = repo_root() / "tests/legacy_configs/cases/002-endpoint-own-list"
    legacy = (case / "before/svc/peach.conf/app.yaml").read_text().replace("codops: zzebu", "codops: legacyco")
    expected = (case / "after/svc/peach.conf/app.yaml").read_text().replace("codops: zzebu", "codops: legacyco")
    notebook = '{"cells": [{"cell_type": "code", "source": "def recommend(x):\\n    pass\\ndef health():\\n    pass\\n"}]}'
    example.write({"example/legacy/peach.conf/app.yaml": legacy, "example/legacy/endpoint.ipynb": notebook})
    try:
        blocked = example.pants("list", "::")
        assert blocked.returncode != 0 and "let `pants peach-migrate ::` rewrite" in blocked.stderr
        check = example.pants("peach-migrate", "--check", "::")
        assert check.returncode == 1
        assert "example/legacy/peach.conf/app.yaml: would rewrite" in check.stdout
        assert example.read("example/legacy/peach.conf/app.yaml") == legacy  # --check writes nothing
        ok(example.pants("peach-migrate", "::"))
        assert example.read("example/legacy/peach.conf/app.yaml") == expected
        listed = ok(example.pants("list", "::")).stdout.split()
        assert "//:peach#legacyco/recommend" in listed and "//:peach#legacyco/endpoints/recommend" in listed
        again = ok(example.pants("peach-migrate", "--check", "::"))
        assert "no legacy config" in again.stdout
    finally:
        shutil.rmtree(example.path / "example/legacy")


def test_every_migrated_corpus_case_lists_through_pants(example: Checkout) -> None:
    """Every case of the legacy corpus, migrated, is a repo `pants list ::` accepts: all at once, each
    under a directory of its own with its codops renamed, with the notebooks its configs reference."""
    files: Dict[str, bytes] = {}
    for case in CASES:
        if not (case / "after").is_dir():
            continue  # a conflict case: the migration writes nothing
        tag = case.name[:3]
        for path, content in migrated(case).items():
            renamed = re.sub(rb"(codops:[ \t]*[\"']?)([a-z0-9][a-z0-9_-]*)", rb"\1\2-c" + tag.encode(), content)
            files[f"example/legacy-corpus/{tag}/{path}"] = renamed
    model = build_model(sorted(files.items()), settings())
    expected: Set[str] = set()
    methods: Dict[str, Set[str]] = {}
    for codops in model.codops:
        expected.update(f"//:peach#{codops.name}/{env.name}" for env in codops.environments)
        for endpoint in codops.endpoints:
            expected.add(f"//:peach#{codops.name}/endpoints/{endpoint.name}")
            for component in endpoint.components:
                methods.setdefault(component.notebook.path, set()).add(component.notebook.method)
        for task in codops.tasks:
            expected.add(f"//:peach#{codops.name}/tasks/{task.name}")
            methods.setdefault(task.notebook.path, set()).add(task.notebook.method)
    assert len(model.codops) >= 30
    for path, names in methods.items():
        source = "".join(f"def {name}(*args):\n    pass\n" for name in sorted(names) if name) or "pass\n"
        files[path] = json.dumps({"cells": [{"cell_type": "code", "source": source}]}).encode()
    for rel, content in files.items():
        (example.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (example.path / rel).write_bytes(content)
    try:
        listed = set(ok(example.pants("list", "::")).stdout.split())
        assert expected <= listed, sorted(expected - listed)
    finally:
        shutil.rmtree(example.path / "example/legacy-corpus")
