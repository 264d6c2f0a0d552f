"""Dependency confusion, a hostile caller environment, failing indexes and secrets, end to end.

The public index serves 99.0.0 of every private package. No build may lock a private package from
anywhere but the private index; a failing index fails loudly, names the environment and the index
(without credentials), and changes nothing in dist/.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Dict, Iterator

import pytest

from peach_e2e.conftest import PASSWORD, USER, World
from peach_e2e.indexes import CannedServer, free_port
from peach_e2e.repo import Checkout, Run

CONFIG = """\
codops: acme
py_environments:
  base:
    dependencies: [orjson-lite==3.10.0]
  consumer:
    dependencies: [pipe-consumer]
  impossible:
    dependencies: [numpy-lite>=99]
"""
STACK = "pydantic-lite==2.5.0\n"


@pytest.fixture(scope="module")
def servers(world: World) -> dict:
    return {"private": world.private, "public": world.public}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[Checkout]:
    checkout = Checkout.clone(tmp_path_factory.mktemp("clone") / "peach")
    shutil.rmtree(checkout.path / "example")
    checkout.write({"example/acme/peach.yaml": CONFIG, "3rdparty/peach/framework-stack.txt": STACK})
    try:
        yield checkout
    finally:
        checkout.stop()


def options(servers: dict, **extra: str) -> Dict[str, str]:
    env = {
        "PANTS_PEACH_PRIVATE_INDEX": servers["private"].url,
        "PANTS_PEACH_PUBLIC_INDEX": servers["public"].url,
        "PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib']",
        "PANTS_PEACH_PRIVATE_PACKAGES": "['pipe-algorithms-lib', 'pipe-consumer']",
        "PANTS_PEACH_INDEX_TIMEOUT": "3",
        "UV_INDEX_PRIVATE_USERNAME": USER,
        "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
    }
    env.update(extra)
    return env


def package(repo: Checkout, env: Dict[str, str], target: str) -> Run:
    run = repo.pants("package", target, env=env)
    assert PASSWORD not in run.stdout + run.stderr, "the index password leaked into the output"
    assert "Traceback (most recent call last)" not in run.stderr
    return run


def source_of(lock: str, name: str) -> str:
    match = re.search(rf'name = "{re.escape(name)}"\nversion = "([^"]+)"\nsource = {{ registry = "([^"]+)"', lock)
    assert match, f"{name} is not in the lock"
    return f"{match.group(1)} from {match.group(2)}"


def dist_snapshot(repo: Checkout) -> Dict[str, bytes]:
    return repo.dist_files()


def test_transitive_private_package_under_a_hostile_environment(repo: Checkout, servers: dict, tmp_path: Path) -> None:
    # The caller's environment and user uv config try every way uv has to bring the public index in.
    user_config = tmp_path / "xdg" / "uv" / "uv.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(
        'index-strategy = "unsafe-best-match"\n'
        f'[[index]]\nname = "evil"\nurl = "{servers["public"].url}"\n'
    )
    hostile = options(
        servers,
        PANTS_PEACH_INJECTED_REQUIREMENTS="[]",  # pipe-algorithms-lib arrives only through pipe-consumer
        UV_INDEX_STRATEGY="unsafe-best-match",
        UV_NO_SOURCES="1",
        UV_INDEX=f"evil={servers['public'].url}",
        UV_EXTRA_INDEX_URL=servers["public"].url,
        UV_DEFAULT_INDEX=servers["public"].url,
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    run = package(repo, hostile, "//:peach#acme/consumer")
    assert run.returncode == 0, run.stderr
    lock = repo.read("dist/peach/acme/consumer/uv.lock")
    private = servers["private"].url
    assert source_of(lock, "pipe-consumer") == f"1.0.0 from {private}"
    assert source_of(lock, "pipe-algorithms-lib") == f"1.1.0 from {private}"
    pyproject = repo.read("dist/peach/acme/consumer/pyproject.toml")
    assert 'override-dependencies = ["pipe-algorithms-lib"]' in pyproject


def test_audit_fails_a_private_package_the_sources_cannot_reach(repo: Checkout, servers: dict) -> None:
    # With only a pattern, peach cannot know to pin the transitive pipe-algorithms-lib, and uv takes
    # the public 99.0.0: the audit of the new uv.lock must fail the build, and nothing is written.
    before = dist_snapshot(repo)
    env = options(servers, PANTS_PEACH_INJECTED_REQUIREMENTS="[]", PANTS_PEACH_PRIVATE_PACKAGES="['pipe-*']",
                  PANTS_LOCAL_CACHE="false")
    run = package(repo, env, "//:peach#acme/consumer")
    assert run.returncode != 0
    assert (f"environment `acme/consumer`: DEPENDENCY CONFUSION: pipe-algorithms-lib==99.0.0 comes from "
            f"{servers['public'].url}, not the private index {servers['private'].url}. The lockfile was not written."
            ) in run.stderr
    assert dist_snapshot(repo) == before


def test_unsatisfiable_requirement(repo: Checkout, servers: dict) -> None:
    before = dist_snapshot(repo)
    run = package(repo, options(servers), "//:peach#acme/impossible")
    assert run.returncode != 0
    assert (f"environment `acme/impossible`: its requirements cannot be satisfied together (uv found no solution; "
            f"private index: {servers['private'].url}).") in run.stderr
    # The declaration uv's reason involves, and the pin to change.
    assert "`numpy-lite>=99` (environment, example/acme/peach.yaml:8)" in run.stderr
    assert "To fix it, loosen or remove the pin `numpy-lite>=99` at example/acme/peach.yaml:8." in run.stderr
    assert dist_snapshot(repo) == before


def failing(repo: Checkout, servers: dict, index_url: str, **extra: str) -> str:
    before = dist_snapshot(repo)
    run = package(repo, options(servers, PANTS_PEACH_PRIVATE_INDEX=index_url, **extra), "//:peach#acme/base")
    assert run.returncode != 0
    assert dist_snapshot(repo) == before
    assert "codops `acme`, environment `base`: cannot pin pipe-algorithms-lib to its latest release" in run.stderr
    return run.stderr


def test_private_index_down(repo: Checkout, servers: dict) -> None:
    url = f"http://127.0.0.1:{free_port()}/simple"
    assert f"cannot reach the private index {url}" in failing(repo, servers, url)


def test_private_index_wrong_password(repo: Checkout, servers: dict) -> None:
    stderr = failing(repo, servers, servers["private"].url, UV_INDEX_PRIVATE_PASSWORD="wrong-" + PASSWORD)
    assert "403" in stderr and servers["private"].url in stderr


def test_private_index_without_credentials(repo: Checkout, servers: dict) -> None:
    stderr = failing(repo, servers, servers["private"].url, UV_INDEX_PRIVATE_PASSWORD="", UV_INDEX_PRIVATE_USERNAME="")
    assert "401" in stderr and servers["private"].url in stderr


@pytest.mark.parametrize("kind", ["500", "slow", "malformed"])
def test_private_index_misbehaving(repo: Checkout, servers: dict, kind: str) -> None:
    server = {"500": lambda: CannedServer.status(500), "slow": lambda: CannedServer.slow(10.0),
              "malformed": lambda: CannedServer.malformed("json")}[kind]()
    with server:
        url = server.url
        stderr = failing(repo, servers, url)
    assert url in stderr
    expected = {"500": "500", "slow": "timed out", "malformed": "malformed"}[kind]
    assert expected in stderr.lower()


def test_no_secret_anywhere_after_all_that(repo: Checkout, servers: dict) -> None:
    run = package(repo, options(servers), "//:peach#acme/base")
    assert run.returncode == 0, run.stderr
    files = [*(repo.path / "dist").rglob("*"), *(repo.path / ".pants.d").rglob("*.log")]
    assert any(p.name == "uv.lock" for p in files)
    for path in files:
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert USER not in repo.read("dist/peach/acme/base/pyproject.toml")
    assert json.dumps(PASSWORD) not in repo.read("dist/peach/acme/base/uv.lock")
