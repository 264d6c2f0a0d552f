"""The index test infrastructure itself: wheels, the world, real pypiserver indexes, canned servers."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from peach_e2e.indexes import (
    PRIVATE_DISTS,
    PUBLIC_DISTS,
    CannedResponse,
    CannedServer,
    IndexWorld,
    PypiServer,
    build_wheel,
    build_world,
    child_python_env,
    free_port,
    http_get,
    normalize_name,
)

AUTH = ("peach", "s3cret:pass")  # A colon in the password: credentials must be quoted in URLs.


def _pip(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m pip` away from any user or machine pip configuration and cache."""
    env = child_python_env({
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    })
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], env=env, capture_output=True, text=True, timeout=timeout,
    )


def _installed(target: Path) -> Dict[str, str]:
    found = {}
    for dist_info in target.glob("*.dist-info"):
        name, version = dist_info.name[: -len(".dist-info")].split("-", 1)
        found[normalize_name(name)] = version
    return found


# -- wheels ------------------------------------------------------------------------------------------


def test_build_wheel_is_valid_and_deterministic(tmp_path: Path) -> None:
    requires = ("h11-lite>=0.8", 'httptools-lite>=0.5.0; extra == "standard"')
    first = build_wheel(tmp_path / "a", "Uvicorn.Lite", "0.30.0", requires, python_requires=">=3.8")
    second = build_wheel(tmp_path / "b", "Uvicorn.Lite", "0.30.0", requires, python_requires=">=3.8")
    assert first.name == "uvicorn_lite-0.30.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    assert build_wheel(tmp_path, "pipe-algorithms-lib", "1.1.0").name == "pipe_algorithms_lib-1.1.0-py3-none-any.whl"

    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names == [
            "uvicorn_lite/__init__.py",
            "uvicorn_lite-0.30.0.dist-info/METADATA",
            "uvicorn_lite-0.30.0.dist-info/WHEEL",
            "uvicorn_lite-0.30.0.dist-info/RECORD",
        ]
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        metadata = zf.read("uvicorn_lite-0.30.0.dist-info/METADATA").decode()
        assert metadata.splitlines()[:3] == ["Metadata-Version: 2.1", "Name: Uvicorn.Lite", "Version: 0.30.0"]
        assert "Requires-Python: >=3.8" in metadata
        assert "Provides-Extra: standard" in metadata
        assert 'Requires-Dist: httptools-lite>=0.5.0; extra == "standard"' in metadata
        assert "Tag: py3-none-any" in zf.read("uvicorn_lite-0.30.0.dist-info/WHEEL").decode()
        assert '__version__ = "0.30.0"' in zf.read("uvicorn_lite/__init__.py").decode()
        record = zf.read("uvicorn_lite-0.30.0.dist-info/RECORD").decode().splitlines()
        assert record[-1] == "uvicorn_lite-0.30.0.dist-info/RECORD,,"
        assert len(record) == len(names)
        for line in record[:-1]:
            path, digest, size = line.split(",")
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)


def test_world_is_closed_and_baited(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    assert sorted(p.name for p in world.private_dir.iterdir()) == [
        "pipe_algorithms_lib-1.0.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.1.0-py3-none-any.whl",
        "pipe_consumer-1.0.0-py3-none-any.whl",
    ]
    public_names = {normalize_name(d.name) for d in PUBLIC_DISTS}
    assert len(public_names) >= 15
    # The bait: the public index serves a higher version of every private package.
    for dist in PRIVATE_DISTS:
        assert world.versions("public", dist.name) == ("99.0.0",)
    # Every requirement names a package of the world.
    every_name = public_names | {normalize_name(d.name) for d in PRIVATE_DISTS}
    for dist in world.dists:
        for req in dist.requires:
            assert normalize_name(re.match(r"[A-Za-z0-9._-]+", req).group(0)) in every_name, (dist, req)
    assert world.versions("public", "numpy-lite") == ("1.0.0", "1.5.0", "2.0.0")
    assert world.versions("public", "tqdm-lite") == ("4.68.2", "4.68.3")
    assert world.wheel("public", "implicit-lite", "0.7.2").is_file()
    assert len(list(world.public_dir.iterdir())) == len(PUBLIC_DISTS)


# -- real indexes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexes(tmp_path_factory) -> Iterator[Tuple[IndexWorld, PypiServer, PypiServer]]:
    world = build_world(tmp_path_factory.mktemp("world"))
    with PypiServer(world.private_dir, auth=AUTH) as private, PypiServer(world.public_dir) as public:
        yield world, private, public


def test_private_index_needs_credentials(indexes) -> None:
    _, private, _ = indexes
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/simple", private.url)
    assert http_get(private.url + "/")[0] == 401
    assert http_get(private.url + "/pipe-consumer/")[0] == 401
    assert http_get(private.url + "/pipe-consumer/", auth=("peach", "wrong"))[0] == 403
    status, body = http_get(private.url + "/pipe-algorithms-lib/", auth=AUTH)
    assert status == 200
    page = body.decode()
    assert "pipe_algorithms_lib-1.0.0-py3-none-any.whl" in page
    assert "pipe_algorithms_lib-1.1.0-py3-none-any.whl" in page
    assert "99.0.0" not in page
    assert "#sha256=" in page
    # A package it does not have is not looked up anywhere else.
    assert http_get(private.url + "/numpy-lite/", auth=AUTH)[0] == 404


def test_public_index_serves_the_bait(indexes) -> None:
    _, _, public = indexes
    for name, filename in [("pipe-consumer", "pipe_consumer-99.0.0"), ("pipe-algorithms-lib", "pipe_algorithms_lib-99.0.0")]:
        status, body = http_get(f"{public.url}/{name}/")
        assert status == 200 and filename in body.decode()
    # Names are found in any spelling, as in PEP 503.
    assert http_get(public.url + "/Pipe_Consumer/")[0] in (200, 301, 302, 303)
    assert http_get(public.url + "/no-such-package/")[0] == 404


def test_pip_resolves_the_public_graph_and_the_wheels_import(indexes, tmp_path: Path) -> None:
    _, _, public = indexes
    target = tmp_path / "site"
    run = _pip("install", "--index-url", public.url + "/", "--target", str(target), "--no-compile",
               "transformers-lite", "implicit-lite==0.7.2", "uvicorn-lite[standard]")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _installed(target) == {
        "transformers-lite": "4.40.0",
        "torch-lite": "2.1.0",
        "tokenizers-lite": "0.19.0",
        "tqdm-lite": "4.68.3",
        "numpy-lite": "2.0.0",
        "typing-extensions-lite": "4.9.0",
        "implicit-lite": "0.7.2",
        "scipy-lite": "1.13.0",
        "uvicorn-lite": "0.30.0",
        "h11-lite": "0.14.0",
        "httptools-lite": "0.6.1",  # through the extra
    }  # and no colorama-lite: its marker is for Windows only.
    code = "import transformers_lite, torch_lite, numpy_lite; print(transformers_lite.__version__, torch_lite.__version__, numpy_lite.__version__)"
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.split() == ["4.40.0", "2.1.0", "2.0.0"]


def test_pip_downloads_from_the_private_index_with_credentials(indexes, tmp_path: Path) -> None:
    _, private, _ = indexes
    assert private.url_with_credentials.startswith("http://peach:s3cret%3Apass@127.0.0.1:")
    run = _pip("download", "--no-deps", "--index-url", private.url_with_credentials + "/",
               "--dest", str(tmp_path), "pipe-consumer")
    assert run.returncode == 0, run.stdout + run.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == "pipe_consumer-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        assert "COMPROMISED = False" in zf.read("pipe_consumer/__init__.py").decode()


def test_pypiserver_stops_even_when_the_block_fails(tmp_path: Path) -> None:
    build_wheel(tmp_path / "pkgs", "solo", "1.0")
    server = PypiServer(tmp_path / "pkgs")
    with pytest.raises(ZeroDivisionError):
        with server:
            port = server.port
            proc = server._proc
            assert http_get(server.url + "/solo/")[0] == 200
            # Wheels added while it runs are served at once (the simple-dir backend rescans).
            build_wheel(tmp_path / "pkgs", "solo", "1.1")
            assert "solo-1.1-py3-none-any.whl" in http_get(server.url + "/solo/")[1].decode()
            1 / 0
    assert proc is not None and proc.poll() is not None
    assert not server.running
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# -- canned answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [401, 403, 500])
def test_canned_status(code: int) -> None:
    with CannedServer.status(code) as server:
        status, _ = http_get(server.url + "/numpy-lite/", auth=("u", "p"))
        assert status == code
        assert http_get(f"http://127.0.0.1:{server.port}/elsewhere")[0] == 404
        (first, _second) = server.requests
        assert first.path == "/simple/numpy-lite/" and first.authorization is not None


def test_canned_malformed_and_routed() -> None:
    def route(path: str):
        return CannedResponse(200, b"ok") if path == "/simple/good/" else None

    with CannedServer.malformed() as broken_json, CannedServer.malformed("html") as broken_html, \
            CannedServer(route) as routed:
        status, body = http_get(broken_json.url + "/anything/")
        assert status == 200 and body.startswith(b'{"meta"')
        with pytest.raises(ValueError):
            json.loads(body)
        status, body = http_get(broken_html.url + "/anything/")
        assert status == 200 and b"#sha256=nothex" in body
        assert http_get(routed.url + "/good/") == (200, b"ok")
        assert http_get(routed.url + "/bad/")[0] == 404


def test_canned_slow_times_out_and_stops_promptly() -> None:
    started = time.monotonic()
    with CannedServer.slow(30) as server:
        with pytest.raises(OSError):  # socket.timeout / URLError, both OSErrors
            http_get(server.url + "/numpy-lite/", timeout=0.5)
    assert time.monotonic() - started < 10


def test_canned_server_lifetime_is_bounded() -> None:
    with CannedServer.status(500, lifetime=0.5) as server:
        assert http_get(server.url + "/x/")[0] == 500
        time.sleep(1.0)
        with pytest.raises(OSError):
            http_get(server.url + "/x/", timeout=1)
