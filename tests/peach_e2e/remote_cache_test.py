"""CI machines share lock results through a remote cache (a real BuildGrid on 127.0.0.1), and the
indexes' credentials are in no cache key, no stored or uploaded Command, no log, no output; nor is a
password given in a URL option or a proxy variable (both refused).

Machine A and machine B are two clones at different paths, each with its own HOME (so its own
Pants local store and named caches); they share only the remote cache and the indexes.
"""
from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path
from typing import Dict, Iterator

import pytest

from peach_e2e.buildgrid import BuildGridServer, contains, install_buildgrid
from peach_e2e.conftest import USER, World
from peach_e2e.indexes import PypiServer, build_wheel
from peach_e2e.new_machine_test import python311
from peach_e2e.package_test import ACME_LOCKED, _identical, write_repo
from peach_e2e.repo import Checkout, Run, user_env, uv_processes

PASSWORD, ROTATED = "first-Tok3n-of-the-day-7731", "rotated-Tok3n-of-the-day-9902"
# The public index's password (through the netrc, like the private one's), a password written into
# `[peach].public_index`'s URL, and a proxy's.
PUBLIC_PASSWORD, URL_PASSWORD, PROXY_PASSWORD = "public-Tok3n-4410", "in-the-url-Tok3n-5521", "proxy-Tok3n-6632"
EVERY_ENV = [*ACME_LOCKED, "beta/base"]  # each gateway ships its base's lock


@pytest.fixture(scope="module")
def bgd(tmp_path_factory) -> Path:
    return install_buildgrid(tmp_path_factory.mktemp("buildgrid") / "venv", python311())


def launcher_cache() -> str:
    env = user_env()
    return f"{env.get('XDG_CACHE_HOME') or env['HOME'] + '/.cache'}/peach-pants"


def machine(root: Path, name: str, common: Dict[str, str]) -> Checkout:
    home = root / name / "home"
    home.mkdir(parents=True)
    checkout = Checkout.clone(root / name / "deeper" / "peach", {
        **common, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PEACH_PANTS_CACHE": launcher_cache(),
    })
    write_repo(checkout)
    return checkout


def ok(run: Run) -> Run:
    assert run.returncode == 0, run.stderr
    assert "Traceback (most recent call last)" not in run.stderr
    return run


def cached_remotely(run: Run) -> int:
    match = re.search(r"remote_cache_requests_cached: (\d+)", run.stderr)
    assert match, run.stderr[-3000:]
    return int(match.group(1))


@pytest.fixture
def private(world: World, tmp_path: Path) -> Iterator[PypiServer]:
    copy = tmp_path / "private-packages"
    shutil.copytree(world.world.private_dir, copy)
    with PypiServer(copy, auth=(USER, PASSWORD)) as server:
        yield server


def test_ci_machines_share_locks_and_no_secret_is_kept(
    bgd: Path, world: World, private: PypiServer, tmp_path: Path
) -> None:
    server = BuildGridServer(bgd, tmp_path / "buildgrid").start()
    public_url = world.public.url.replace("://127.0.0.1:", "://localhost:")
    assert public_url != world.public.url
    try:
        common = {
            "PANTS_PEACH_PRIVATE_INDEX": private.url,
            # Another host name than the private index's: a netrc file tells hosts apart, not ports.
            "PANTS_PEACH_PUBLIC_INDEX": public_url,
            "PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib', 'implicit-lite==0.7.2']",
            "UV_INDEX_PRIVATE_USERNAME": USER,
            "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
            # The public index takes any password: this one only has to reach uv, and nothing else.
            "UV_INDEX_PUBLIC_USERNAME": USER,
            "UV_INDEX_PUBLIC_PASSWORD": PUBLIC_PASSWORD,
            "PANTS_REMOTE_CACHE_READ": "true",
            "PANTS_REMOTE_CACHE_WRITE": "true",
            "PANTS_REMOTE_STORE_ADDRESS": server.address,
            "PANTS_STATS_LOG": "true",
        }
        a, b = machine(tmp_path, "a", common), machine(tmp_path, "b", common)
        runs = []
        try:
            # Machine A locks everything and fills the remote cache.
            run = ok(a.pants("package", "::"))
            assert uv_processes(run) == EVERY_ENV
            runs.append(run)
            # Machine B, new empty local caches: no uv lock runs; the same dist/, byte for byte.
            run = ok(b.pants("package", "::"))
            runs.append(run)
            assert uv_processes(run) == []
            assert cached_remotely(run) >= len(EVERY_ENV)
            assert _identical(filecmp.dircmp(a.path / "dist/peach", b.path / "dist/peach"))

            # The token is rotated: a build with the new one runs no uv lock either (at debug level,
            # without pantsd, so that the engine's log of every process it spawns reaches stderr).
            port = private.port  # stop() forgets it; the rotated server keeps the URL
            private.stop()
            rotated = PypiServer(private.packages_dir, auth=(USER, ROTATED), port=port).start()
            try:
                run = ok(b.pants("--no-pantsd", "-ldebug", "package", "::",
                                 env={"UV_INDEX_PRIVATE_PASSWORD": ROTATED}))
                runs.append(run)
                assert uv_processes(run) == []
                # ...and starts none speculatively either (`[uv].remote_cache_speculation_delay`): Pants
                # would otherwise start each uv process locally at once and cancel it on the hit.
                # uv's binary (`.peach-uv/uv`), or the runner's pex for a directory index
                spawned = re.findall(r'spawned local process .*?argv: \["(?:[^"]*uv\.pex[^"]*|\.peach-uv/uv)", "(lock|pip)"'
                                     r'.*remote_cache_speculation_delay: (\w+)', run.stderr)
                assert spawned and {delay for _, delay in spawned} == {"1s"}, spawned  # the latest-release lookup
                assert [kind for kind, _ in spawned].count("lock") == 0, spawned
                # A wrong password still gets the clear message.
                run = b.pants("package", "::", env={"UV_INDEX_PRIVATE_PASSWORD": "wrong-" + ROTATED})
                runs.append(run)
                assert run.returncode != 0
                assert "403 Forbidden" in run.stderr and "UV_INDEX_PRIVATE_PASSWORD" in run.stderr
                assert "Traceback (most recent call last)" not in run.stderr

                # A password in the public index's URL, or in a proxy variable, is refused with the fix
                # (at debug level, so that what Pants logs is checked below too).
                public_with_password = public_url.replace("://", f"://{USER}:{URL_PASSWORD}@")
                run = b.pants("-ldebug", "package", "::", env={"UV_INDEX_PRIVATE_PASSWORD": ROTATED,
                                                                "PANTS_PEACH_PUBLIC_INDEX": public_with_password})
                runs.append(run)
                assert run.returncode != 0
                assert f"[peach].public_index = `{public_url}` carries credentials" in run.stderr, run.stderr
                assert "UV_INDEX_PUBLIC_USERNAME and UV_INDEX_PUBLIC_PASSWORD" in run.stderr
                run = b.pants("-ldebug", "package", "::", env={
                    "UV_INDEX_PRIVATE_PASSWORD": ROTATED, "HTTPS_PROXY": f"http://{USER}:{PROXY_PASSWORD}@127.0.0.1:9"})
                runs.append(run)
                assert run.returncode != 0
                assert "HTTPS_PROXY = `http://127.0.0.1:9` carries credentials" in run.stderr, run.stderr
                assert "Traceback (most recent call last)" not in run.stderr

                # A new private release: B re-locks exactly the environments that inherit it.
                build_wheel(private.packages_dir, "pipe-algorithms-lib", "1.2.0", ("numpy-lite>=1",))
                run = ok(b.pants("package", "::", env={"UV_INDEX_PRIVATE_PASSWORD": ROTATED}))
                runs.append(run)
                assert uv_processes(run) == ["acme/base", "acme/ml", "beta/base"]

                # The server is gone: the build still succeeds, with a warning.
                server.stop()
                beta = "example/beta/peach.yaml"
                b.write({beta: b.read(beta).replace("tqdm-lite==4.68.2", "tqdm-lite==4.68.3")})
                run = ok(b.pants("package", "::", env={"UV_INDEX_PRIVATE_PASSWORD": ROTATED}))
                runs.append(run)
                assert uv_processes(run) == ["beta/base"]
                assert re.search(r"\[WARN\].*remote", run.stderr, re.IGNORECASE), run.stderr[-2000:]
            finally:
                rotated.stop()
        finally:
            a.stop()
            b.stop()

        # No secret anywhere: local stores, the remote cache's storage, logs (debug level), dist/.
        for secret in (PASSWORD, ROTATED, PUBLIC_PASSWORD, URL_PASSWORD, PROXY_PASSWORD):
            for run in runs:
                assert secret not in run.stdout + run.stderr
            for place in (tmp_path / "a" / "home" / ".cache" / "pants" / "lmdb_store",
                          tmp_path / "b" / "home" / ".cache" / "pants" / "lmdb_store",
                          server.cas, a.path / ".pants.d", b.path / ".pants.d", a.path / "dist", b.path / "dist"):
                assert place.exists(), place
                assert contains(place, secret.encode()) == [], place
    finally:
        server.stop()
