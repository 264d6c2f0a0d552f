"""The launcher bootstraps Pants in a fresh clone, and real Pants reads the peach configs there."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import tomlkit

from peach_e2e.repo import Checkout, fresh_checkout, user_env


def test_fresh_clone_lists_generated_targets(example: Checkout) -> None:
    run = example.pants("list", "::")
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
    assert "installing the plugin's requirements" not in run.stderr
    # The plugin's own modules come from the launcher's virtualenv, not from a plugin resolve.
    assert "Resolving plugins" not in run.stderr


def test_launcher_installs_the_plugin_requirements_the_plugin_resolve_pins(example: Checkout) -> None:
    """The launcher's PLUGIN_REQUIREMENTS are pins of the plugin's own resolve, so the plugin runs in
    Pants with the versions its tests ran with."""
    launcher = (example.path / "pants").read_text()
    match = re.search(r"^PLUGIN_REQUIREMENTS=\(([^)]*)\)$", launcher, re.MULTILINE)
    assert match, "the launcher no longer declares PLUGIN_REQUIREMENTS=(...)"
    pins = re.findall(r'"([^"]+)"', match.group(1))
    assert pins and all("==" in pin for pin in pins), pins
    lock = (example.path / "3rdparty/python/pants-plugins.lock").read_text()
    header = json.loads("\n".join(
        line[3:] for line in lock.split("--- BEGIN PANTS LOCKFILE METADATA: DO NOT EDIT OR REMOVE ---\n")[1]
        .split("// --- END PANTS LOCKFILE METADATA ---")[0].splitlines()))
    assert set(pins) <= set(header["generated_with_requirements"]), (pins, header["generated_with_requirements"])
    # ...and Pants is not asked to resolve them again on every new machine.
    assert "plugins" not in tomlkit.parse((example.path / "pants.toml").read_text())["GLOBAL"]


def test_peek_shows_requirements_and_provenance(example: Checkout) -> None:
    run = example.pants("peek", "//:peach#zzebu/ml")
    assert run.returncode == 0, run.stderr
    (target,) = json.loads(run.stdout)
    assert target["target_type"] == "py_environment"
    assert target["requirements"][:6] == [
        "pipe-algorithms-lib", "implicit==0.7.2", "orjson==3.10.0", "httpx", "torch==2.0", "transformers<4.48",
    ]
    assert target["provenance"][4] == {
        "requirement": "torch==2.0", "package": "torch", "tier": "environment",
        "source": "example/zzebu/peach.conf/environments.yaml:10", "replaced": [], "dropped_bare": [],
        "extras_from": [],
    }
    assert target["tags"] == ["zzebu"]


def test_dependents_and_tags(example: Checkout) -> None:
    run = example.pants("dependents", "//:peach#zzebu/ml")
    assert run.returncode == 0, run.stderr
    assert set(run.stdout.split()) == {
        "//:peach", "//:peach#zzebu", "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex",
    }
    run = example.pants("--tag=debr", "list", "::")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() and all("debr" in line for line in run.stdout.split())


def test_changed_since_reaches_exactly_the_affected_targets(example: Checkout) -> None:
    git = ["git", "-C", str(example.path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot", "--allow-empty"], check=True)
    config = "example/debr/peach.yaml"
    original = example.read(config)
    example.write({config: original.replace("tabulate>=0.9", "tabulate>=0.9.0")})
    try:
        run = example.pants("--changed-since=HEAD", "--changed-dependents=transitive", "list")
    finally:
        example.write({config: original})
    assert run.returncode == 0, run.stderr
    generated = {line for line in run.stdout.split() if "#" in line}
    # Every environment the edited file declares (base is inherited by all of debr's), what runs in
    # them, their codops, and the target that packages every codops.
    assert generated == {
        "//:peach#debr", "//:peach#debr/base", "//:peach#debr/reporting", "//:peach#debr/codops-gateway",
        "//:peach#debr/endpoints/popular", "//:peach#debr/tasks/weekly-report", "//:peach#_all",
    }


def test_bad_config_fails_with_a_located_message_and_no_traceback(example: Checkout) -> None:
    config = "example/zzebu/peach.conf/endpoints.yaml"
    original = example.read(config)
    example.write({config: original.replace("py_env: ml                # run this endpoint", "py_env: mll  #")})
    try:
        run = example.pants("list", "::")
    finally:
        example.write({config: original})
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
