"""The launcher bootstraps Pants in a fresh clone, and real Pants reads the peach configs there."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from peach_e2e.repo import fresh_checkout, pants, user_env


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return fresh_checkout(tmp_path_factory.mktemp("clone") / "peach")


def test_fresh_clone_lists_generated_targets(checkout: Path) -> None:
    run = pants(checkout, ["list", "::"])
    assert run.returncode == 0, run.stderr
    listed = set(run.stdout.split())
    assert {
        "//:peach#zzebu",
        "//:peach#zzebu/base",
        "//:peach#zzebu/ml",
        "//:peach#zzebu/codops-gateway",
        "//:peach#zzebu/endpoints/recommend",
        "//:peach#zzebu/tasks/reindex",
        "//:peach#debr/reporting",
    } <= listed
    # The launcher's cache is reused: no second install.
    assert "installing Pants" not in run.stderr


def test_peek_shows_requirements_and_provenance(checkout: Path) -> None:
    run = pants(checkout, ["peek", "//:peach#zzebu/ml"])
    assert run.returncode == 0, run.stderr
    (target,) = json.loads(run.stdout)
    assert target["target_type"] == "py_environment"
    assert target["requirements"][:6] == [
        "pipe-algorithms-lib", "implicit==0.7.2", "orjson==3.10.0", "httpx", "torch==2.0", "transformers",
    ]
    assert target["provenance"][4] == {
        "requirement": "torch==2.0", "package": "torch", "tier": "environment",
        "source": "example/zzebu/peach.conf/environments.yaml:10", "replaced": [], "dropped_bare": [],
        "extras_from": [],
    }
    assert target["tags"] == ["zzebu"]


def test_dependents_and_tags(checkout: Path) -> None:
    run = pants(checkout, ["dependents", "//:peach#zzebu/ml"])
    assert run.returncode == 0, run.stderr
    assert set(run.stdout.split()) == {
        "//:peach", "//:peach#zzebu", "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex",
    }
    run = pants(checkout, ["--tag=debr", "list", "::"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() and all("debr" in line for line in run.stdout.split())


def test_changed_since_reaches_exactly_the_affected_targets(checkout: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(checkout, work, symlinks=True)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot", "--allow-empty"], check=True)
    config = work / "example/debr/peach.yaml"
    config.write_text(config.read_text().replace("tabulate>=0.9", "tabulate>=0.9.0"))
    run = pants(work, ["--changed-since=HEAD", "--changed-dependents=transitive", "list"])
    assert run.returncode == 0, run.stderr
    generated = {line for line in run.stdout.split() if "#" in line}
    assert generated == {
        "//:peach#debr", "//:peach#debr/base", "//:peach#debr/reporting", "//:peach#debr/codops-gateway",
        "//:peach#debr/endpoints/popular", "//:peach#debr/tasks/weekly-report",
    }


def test_bad_config_fails_with_a_located_message_and_no_traceback(checkout: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(checkout, work, symlinks=True)
    config = work / "example/zzebu/peach.conf/endpoints.yaml"
    config.write_text(config.read_text().replace("py_env: ml                # run this endpoint", "py_env: mll  #"))
    run = pants(work, ["list", "::"])
    assert run.returncode != 0
    assert (
        "example/zzebu/peach.conf/endpoints.yaml:6: `endpoints.recommend.py_env`: unknown environment `mll`; "
        "did you mean `ml`?\n  valid: the environments of codops `zzebu`: `base`, `ml`\n  fix: set `py_env: ml`"
    ) in run.stderr
    assert "Traceback (most recent call last)" not in run.stderr


def test_launcher_without_python39_says_what_to_install(tmp_path: Path) -> None:
    if any(os.path.exists(p) for p in ("/usr/bin/python3.9", "/usr/local/bin/python3.9")):
        pytest.skip("this machine has a system CPython 3.9, so the launcher would find it")
    checkout = fresh_checkout(tmp_path / "peach")
    env = user_env({
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "PEACH_PANTS_CACHE": str(tmp_path / "cache"),
    })
    proc = subprocess.run(["./pants", "--version"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Pants 2.17.1 needs CPython 3.9, and none was found." in proc.stderr
    assert "PEACH_PYTHON39" in proc.stderr
    assert not (tmp_path / "cache" / "pants-2.17.1").exists()


def test_readme_first_command_builds_the_example_against_the_real_public_index(checkout: Path) -> None:
    run = pants(checkout, ["package", "::"])
    assert run.returncode == 0, run.stderr
    dist = checkout / "dist/peach"
    projects = sorted(str(p.parent.relative_to(dist)) for p in dist.glob("*/*/pyproject.toml"))
    assert projects == ["debr/base", "debr/codops-gateway", "debr/reporting",
                        "zzebu/base", "zzebu/codops-gateway", "zzebu/ml"]
    for project in projects:
        assert (dist / project / "uv.lock").is_file()
    ml = (dist / "zzebu/ml/pyproject.toml").read_text()
    # The example's private index holds the stand-in's releases 1.0.0 and 1.1.0: the latest is pinned.
    assert '"pipe-algorithms-lib==1.1.0"' in ml and '"torch==2.0"' in ml
    lock = (dist / "zzebu/ml/uv.lock").read_text()
    assert 'name = "pipe-algorithms-lib"\nversion = "1.1.0"\nsource = { registry = "../../../../example/private-index" }' in lock
    summary = json.loads((dist / "zzebu/environments.json").read_text())
    assert [e["environment"] for e in summary["endpoints"]] == ["ml"]
    assert [t["environment"] for t in summary["tasks"]] == ["ml"]
