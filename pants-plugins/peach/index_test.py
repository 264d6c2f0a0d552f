"""Tests of peach.index: filename parsing, local directories, and lookups against real servers.

The real-server tests start pypiserver in a subprocess (with and without basic auth) and a tiny
threaded http.server with canned answers for what pypiserver cannot do (PEP 691 JSON, HTTP 500,
a slow answer, a malformed page, redirects). pypiserver and passlib are imported at the top on
purpose: the tests fail, rather than skip, when they are missing.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pypiserver  # noqa: F401  (run in a subprocess; imported so a missing one fails the tests)
import pytest
from passlib.apache import HtpasswdFile

from peach import index
from peach.index import (
    IndexLookupError,
    latest_in_filenames,
    latest_release,
    main,
    normalize_name,
    redact_url,
    version_from_filename,
)

PACKAGE = "pipe-algorithms-lib"
USER = "alice"
PASSWORD = "hunter2-S3CRET-pw"
WRONG_PASSWORD = "not-the-pw-XYZZY"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _files(*names: str) -> List[Tuple[str, bool]]:
    return [(name, False) for name in names]


# --- pure: names, filenames, versions ----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Pipe_Algorithms.Lib", "pipe-algorithms-lib", "PIPE__algorithms--LIB", "pipe.algorithms_lib"]
)
def test_normalize_name(name: str) -> None:
    assert normalize_name(name) == PACKAGE


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("pipe_algorithms_lib-1.0.0-py3-none-any.whl", (PACKAGE, "1.0.0")),
        ("Pipe_Algorithms.Lib-2.1-1-cp39-cp39-manylinux2014_x86_64.whl", (PACKAGE, "2.1")),
        ("pipe-algorithms-lib-1.2.0.tar.gz", (PACKAGE, "1.2.0")),
        ("Pipe.Algorithms_Lib-1.3.zip", (PACKAGE, "1.3")),
        ("pipe_algorithms_lib-1.4.post2.tar.bz2", (PACKAGE, "1.4.post2")),
        ("/packages/pipe_algorithms_lib-1.0.0-py3-none-any.whl", (PACKAGE, "1.0.0")),
        ("pipe_algorithms_lib-1.0.0-py3-none-any.whl.metadata", None),
        ("pipe_algorithms_lib-1.0.0.tar.gz.asc", None),
        ("pipe_algorithms_lib-1.0.0-py3.egg", None),
        ("README.txt", None),
        ("broken.whl", None),
        ("noversion.tar.gz", None),
    ],
)
def test_version_from_filename(filename: str, expected: Optional[Tuple[str, str]]) -> None:
    assert version_from_filename(filename) == expected


def test_latest_sorts_numerically_not_lexically() -> None:
    files = _files(
        "pipe_algorithms_lib-1.9.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.10.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.2.0-py3-none-any.whl",
    )
    assert latest_in_filenames(files, PACKAGE) == "1.10.0"


def test_post_release_sorts_after_its_release_and_before_the_next() -> None:
    files = _files(
        "pipe_algorithms_lib-1.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.0.post1-py3-none-any.whl",
    )
    assert latest_in_filenames(files, PACKAGE) == "1.0.post1"
    files += _files("pipe_algorithms_lib-1.0.1-py3-none-any.whl")
    assert latest_in_filenames(files, PACKAGE) == "1.0.1"


def test_trailing_zeros_compare_equal_and_pick_deterministically() -> None:
    files = _files("pipe_algorithms_lib-1.1-py3-none-any.whl", "pipe_algorithms_lib-1.1.0.tar.gz")
    assert latest_in_filenames(files, PACKAGE) in ("1.1", "1.1.0")
    assert latest_in_filenames(files, PACKAGE) == latest_in_filenames(list(reversed(files)), PACKAGE)
    assert latest_in_filenames(files + _files("pipe_algorithms_lib-1.0.9.zip"), PACKAGE) in ("1.1", "1.1.0")


@pytest.mark.parametrize(
    "version", ["2.0.0rc1", "2.0.0a1", "2.0.0b2", "2.0.0.dev3", "2.0.0+local", "2.0.0.post1.dev1", "v2.0.0"]
)
def test_non_final_versions_are_ignored(version: str) -> None:
    files = _files("pipe_algorithms_lib-1.0.0-py3-none-any.whl", f"pipe_algorithms_lib-{version}-py3-none-any.whl")
    assert latest_in_filenames(files, PACKAGE) == "1.0.0"


def test_yanked_files_are_ignored() -> None:
    files = [
        ("pipe_algorithms_lib-1.0.0-py3-none-any.whl", False),
        ("pipe_algorithms_lib-1.1.0-py3-none-any.whl", True),
    ]
    assert latest_in_filenames(files, PACKAGE) == "1.0.0"
    assert latest_in_filenames([files[1]], PACKAGE) is None


def test_other_projects_are_ignored_and_names_are_normalised() -> None:
    files = _files(
        "pipe_algorithms-9.0.0-py3-none-any.whl",
        "pipe_algorithms_lib_extra-9.0.0-py3-none-any.whl",
        "other-9.0.0.tar.gz",
        "Pipe_Algorithms.Lib-1.2.0-py3-none-any.whl",
        "pipe-algorithms-lib-1.1.0.tar.gz",
    )
    assert latest_in_filenames(files, "Pipe_Algorithms.Lib") == "1.2.0"
    assert latest_in_filenames(files, PACKAGE) == "1.2.0"
    assert latest_in_filenames(files, "nothing-here") is None
    assert latest_in_filenames([], PACKAGE) is None


def test_latest_in_filenames_accepts_any_iterable() -> None:
    generator = ((f"pipe_algorithms_lib-1.{i}.0-py3-none-any.whl", False) for i in range(3))
    assert latest_in_filenames(generator, PACKAGE) == "1.2.0"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://alice:pw@pypi.example.com/simple", "https://pypi.example.com/simple"),
        ("https://alice@pypi.example.com:8443/simple/", "https://pypi.example.com:8443/simple/"),
        ("http://a%40b:p%3Aw%40x@127.0.0.1:8081/simple", "http://127.0.0.1:8081/simple"),
        ("http://u:p@[::1]:8081/simple", "http://[::1]:8081/simple"),
        ("https://pypi.example.com/simple", "https://pypi.example.com/simple"),
        ("file:///srv/wheels", "file:///srv/wheels"),
        ("/srv/wheels", "/srv/wheels"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# --- local directories -------------------------------------------------------------------------


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    for name in [
        "pipe_algorithms_lib-1.0.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.1.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.2.0rc1-py3-none-any.whl",
        "pipe_algorithms_lib-0.9.tar.gz",
        "other_lib-5.0.0-py3-none-any.whl",
        "notes.txt",
    ]:
        (directory / name).write_bytes(b"")
    return directory


def test_local_directory_path(wheel_dir: Path) -> None:
    assert latest_release(str(wheel_dir), PACKAGE) == "1.1.0"
    assert latest_release(str(wheel_dir), "Pipe_Algorithms.Lib") == "1.1.0"
    assert latest_release(str(wheel_dir), "other-lib") == "5.0.0"


def test_local_directory_file_url(wheel_dir: Path) -> None:
    assert latest_release(wheel_dir.as_uri(), PACKAGE) == "1.1.0"
    assert latest_release(wheel_dir.as_uri() + "/", PACKAGE) == "1.1.0"


def test_local_directory_missing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(IndexLookupError) as error:
        latest_release(str(missing), PACKAGE)
    assert f"the local index directory {missing} does not exist" in str(error.value)
    assert PACKAGE in str(error.value)
    with pytest.raises(IndexLookupError, match="does not exist"):
        latest_release(missing.as_uri(), PACKAGE)


def test_local_directory_is_a_file(wheel_dir: Path) -> None:
    a_file = wheel_dir / "notes.txt"
    with pytest.raises(IndexLookupError) as error:
        latest_release(str(a_file), PACKAGE)
    assert "is not a directory" in str(error.value)
    assert PACKAGE in str(error.value)


def test_local_directory_with_only_prereleases(tmp_path: Path) -> None:
    for version in ["2.0.0a1", "2.0.0a2", "2.0.0b1", "2.0.0rc1", "2.0.0rc2", "2.0.0.dev1", "2.0.0.dev2"]:
        (tmp_path / f"pipe_algorithms_lib-{version}-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(IndexLookupError) as error:
        latest_release(str(tmp_path), PACKAGE)
    message = str(error.value)
    assert message.startswith(f"{PACKAGE} has no final release on {tmp_path}")
    assert "2.0.0a1" in message and "and 2 more" in message


def test_local_directory_without_the_package(tmp_path: Path) -> None:
    (tmp_path / "other-1.0.tar.gz").write_bytes(b"")
    with pytest.raises(IndexLookupError) as error:
        latest_release(str(tmp_path), PACKAGE)
    assert f"{PACKAGE} has no final release on {tmp_path}" in str(error.value)
    assert "no wheel or sdist files" in str(error.value)


def test_unsupported_scheme() -> None:
    with pytest.raises(IndexLookupError, match="unsupported index URL scheme 'ftp'") as error:
        latest_release(f"ftp://{USER}:{PASSWORD}@example.invalid/simple", PACKAGE)
    assert PASSWORD not in str(error.value)


# --- helpers for the servers -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answers(url: str, process: subprocess.Popen, log: Path, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pypiserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 401 when auth is on)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"pypiserver did not answer {url} within {deadline_s:g} s:\n{log.read_text()}")


class _PypiServer:
    def __init__(self, packages: Path, workdir: Path, htpasswd: Optional[Path]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/simple"
        self.log = workdir / f"pypiserver-{self.port}.log"
        args = [
            sys.executable, "-m", "pypiserver", "run",
            "-i", "127.0.0.1", "-p", str(self.port),
            "--disable-fallback", "--server", "wsgiref",
        ]  # fmt: skip
        if htpasswd is not None:
            args += ["-P", str(htpasswd), "-a", "list,download"]
        args.append(str(packages))
        env = dict(os.environ)
        # Whatever runs these tests (a venv, a PEX) put pypiserver on sys.path: pass it on.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        try:
            _wait_until_answers(f"{self.url}/", self.process, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def pypi_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Empty files named like releases: pypiserver lists files by name, content is not read."""
    packages = tmp_path_factory.mktemp("pypiserver-packages")
    for name in [
        "pipe_algorithms_lib-1.0.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.1.0-py3-none-any.whl",
        "pipe_algorithms_lib-1.2.0rc1-py3-none-any.whl",
        "pipe-algorithms-lib-1.0.0.tar.gz",
        "only_pre-0.1.0b1-py3-none-any.whl",
        "other_lib-3.0.0-py3-none-any.whl",
    ]:
        (packages / name).write_bytes(b"")
    return packages


@pytest.fixture(scope="module")
def pypiserver_open(pypi_packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_PypiServer]:
    server = _PypiServer(pypi_packages, tmp_path_factory.mktemp("pypiserver-open"), htpasswd=None)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pypiserver_auth(pypi_packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_PypiServer]:
    workdir = tmp_path_factory.mktemp("pypiserver-auth")
    htpasswd = workdir / "htpasswd"
    entries = HtpasswdFile(str(htpasswd), new=True)
    entries.set_password(USER, PASSWORD)
    entries.save()
    server = _PypiServer(pypi_packages, workdir, htpasswd=htpasswd)
    yield server
    server.stop()


# --- real server: pypiserver -------------------------------------------------------------------


def test_pypiserver_html_lookup(pypiserver_open: _PypiServer) -> None:
    assert latest_release(pypiserver_open.url, PACKAGE, timeout=10) == "1.1.0"
    assert latest_release(pypiserver_open.url + "/", "Pipe_Algorithms.Lib", timeout=10) == "1.1.0"
    assert latest_release(pypiserver_open.url, "other-lib", timeout=10) == "3.0.0"


def test_pypiserver_only_prereleases(pypiserver_open: _PypiServer) -> None:
    with pytest.raises(IndexLookupError) as error:
        latest_release(pypiserver_open.url, "only-pre", timeout=10)
    assert str(error.value).startswith(f"only-pre has no final release on {pypiserver_open.url}")
    assert "0.1.0b1" in str(error.value)


def test_pypiserver_unknown_package_is_404(pypiserver_open: _PypiServer) -> None:
    with pytest.raises(IndexLookupError) as error:
        latest_release(pypiserver_open.url, "no-such-package", timeout=10)
    message = str(error.value)
    assert f"the private index {pypiserver_open.url} has no package no-such-package" in message
    assert "HTTP 404" in message


def test_pypiserver_401_without_credentials(pypiserver_auth: _PypiServer) -> None:
    with pytest.raises(IndexLookupError) as error:
        latest_release(pypiserver_auth.url, PACKAGE, timeout=10)
    message = str(error.value)
    assert "HTTP 401" in message and PACKAGE in message and pypiserver_auth.url in message
    assert "credentials are missing or wrong" in message
    assert "UV_INDEX_<NAME>_USERNAME" in message and "UV_INDEX_<NAME>_PASSWORD" in message


def test_pypiserver_success_with_credentials(pypiserver_auth: _PypiServer) -> None:
    assert latest_release(pypiserver_auth.url, PACKAGE, username=USER, password=PASSWORD, timeout=10) == "1.1.0"


def test_pypiserver_success_with_credentials_in_the_url(pypiserver_auth: _PypiServer) -> None:
    url = pypiserver_auth.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    assert latest_release(url, PACKAGE, timeout=10) == "1.1.0"


def test_pypiserver_wrong_password_is_403(pypiserver_auth: _PypiServer) -> None:
    # pypiserver answers a wrong password (or an unknown user) with 403 Forbidden, not 401.
    for user in (USER, "mallory"):
        with pytest.raises(IndexLookupError) as error:
            latest_release(pypiserver_auth.url, PACKAGE, username=user, password=WRONG_PASSWORD, timeout=10)
        message = str(error.value)
        assert "HTTP 403 Forbidden" in message and PACKAGE in message and pypiserver_auth.url in message
        assert "lack access" in message and "wrong" in message
        assert WRONG_PASSWORD not in message


def test_pypiserver_wrong_password_in_the_url_is_not_shown(pypiserver_auth: _PypiServer) -> None:
    url = pypiserver_auth.url.replace("http://", f"http://{USER}:{WRONG_PASSWORD}@")
    with pytest.raises(IndexLookupError) as error:
        latest_release(url, PACKAGE, timeout=10)
    assert "HTTP 403" in str(error.value)
    assert WRONG_PASSWORD not in str(error.value) and f"{USER}:" not in str(error.value)
    assert pypiserver_auth.url in str(error.value)


def test_pypiserver_404_with_credentials(pypiserver_auth: _PypiServer) -> None:
    with pytest.raises(IndexLookupError, match="has no package no-such-package") as error:
        latest_release(pypiserver_auth.url, "no-such-package", username=USER, password=PASSWORD, timeout=10)
    assert PASSWORD not in str(error.value)


def test_connection_refused() -> None:
    port = _free_port()  # nothing listens there
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/simple"
    with pytest.raises(IndexLookupError) as error:
        latest_release(url, PACKAGE, timeout=5)
    message = str(error.value)
    assert message.startswith(
        f"cannot reach the private index http://127.0.0.1:{port}/simple to look up the latest "
        f"release of {PACKAGE}: "
    )
    assert "refused" in message.lower()
    assert PASSWORD not in message and USER not in message


def test_main_against_pypiserver(
    pypiserver_auth: _PypiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(index.USERNAME_ENV, USER)
    monkeypatch.setenv(index.PASSWORD_ENV, PASSWORD)
    assert main([pypiserver_auth.url, PACKAGE]) == 0
    assert capsys.readouterr() == ("1.1.0\n", "")

    monkeypatch.setenv(index.PASSWORD_ENV, WRONG_PASSWORD)
    assert main([pypiserver_auth.url, PACKAGE]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "HTTP 403" in err and WRONG_PASSWORD not in err

    monkeypatch.delenv(index.USERNAME_ENV)
    monkeypatch.delenv(index.PASSWORD_ENV)
    assert main([pypiserver_auth.url, PACKAGE]) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_main_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: python index.py <index_url> <package>" in capsys.readouterr().err


def test_runs_as_a_standalone_script_copied_alone(pypiserver_auth: _PypiServer, tmp_path: Path) -> None:
    """The plugin copies index.py alone into a sandbox and runs it: no peach, no Pants."""
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    shutil.copy(index.__file__, sandbox / "index.py")
    env = {
        "PATH": os.environ.get("PATH", ""),
        index.USERNAME_ENV: USER,
        index.PASSWORD_ENV: PASSWORD,
    }
    command = [sys.executable, "-I", "-S", "index.py", pypiserver_auth.url, PACKAGE]
    result = subprocess.run(command, cwd=sandbox, env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1.1.0\n", "")

    env[index.PASSWORD_ENV] = WRONG_PASSWORD
    result = subprocess.run(command, cwd=sandbox, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert "HTTP 403" in result.stderr and WRONG_PASSWORD not in result.stderr

    result = subprocess.run(
        [sys.executable, "-I", "-S", "index.py", str(sandbox / "missing"), PACKAGE],
        cwd=sandbox, env={"PATH": env["PATH"]}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "does not exist" in result.stderr


# --- real server: canned answers from http.server ----------------------------------------------


class _Route:
    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "text/html",
        headers: Optional[Dict[str, str]] = None,
        delay_s: float = 0.0,
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}
        self.delay_s = delay_s


class _CannedServer:
    """A threaded HTTP server on 127.0.0.1 answering each path with a canned response."""

    def __init__(self) -> None:
        self.routes: Dict[str, _Route] = {}
        self.requests: List[Tuple[str, Dict[str, str]]] = []
        self.released = threading.Event()
        canned = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802
                canned.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = canned.routes.get(self.path, _Route(404, b"not found", "text/plain"))
                if route.delay_s:
                    canned.released.wait(route.delay_s)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # e.g. the client of a slow answer gave up: expected, keep the output clean

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def canned() -> Iterator[_CannedServer]:
    server = _CannedServer()
    yield server
    server.stop()


_PAGE = f"/simple/{PACKAGE}/"


def _json_page(files: List[Dict[str, object]]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.0"}, "name": PACKAGE, "files": files}).encode()


def test_sends_the_accept_header_and_the_normalised_name(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(body=b'<a href="pipe_algorithms_lib-1.0.0-py3-none-any.whl">x</a>')
    assert latest_release(canned.base + "/simple", "Pipe_Algorithms.Lib") == "1.0.0"
    (path, headers), = canned.requests
    assert path == _PAGE
    assert headers["accept"] == index.ACCEPT
    assert "authorization" not in headers


def test_sends_basic_auth(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(body=b'<a href="pipe_algorithms_lib-1.0.0-py3-none-any.whl">x</a>')
    latest_release(canned.base + "/simple/", PACKAGE, username=USER, password=PASSWORD)
    (_, headers), = canned.requests
    assert headers["authorization"] == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def test_pep691_json(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(
        content_type=JSON_TYPE,
        body=_json_page(
            [
                {"filename": "pipe_algorithms_lib-1.0.0-py3-none-any.whl", "url": "a", "hashes": {}},
                {"filename": "pipe_algorithms_lib-1.1.0-py3-none-any.whl", "url": "b", "hashes": {}, "yanked": False},
                {"filename": "pipe_algorithms_lib-1.3.0-py3-none-any.whl", "url": "c", "hashes": {}, "yanked": True},
                {"filename": "pipe_algorithms_lib-1.2.0.tar.gz", "url": "d", "hashes": {}, "yanked": "broken"},
                {"filename": "pipe_algorithms_lib-1.4.0rc1.tar.gz", "url": "e", "hashes": {}},
            ]
        ),
    )
    assert latest_release(canned.base + "/simple", PACKAGE) == "1.1.0"


def test_pep691_json_only_yanked(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(
        content_type=JSON_TYPE,
        body=_json_page([{"filename": "pipe_algorithms_lib-1.0.0.tar.gz", "url": "a", "hashes": {}, "yanked": "x"}]),
    )
    with pytest.raises(IndexLookupError, match=r"has no final release on .*1 yanked file ignored"):
        latest_release(canned.base + "/simple", PACKAGE)


def test_html_data_yanked(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(
        content_type="text/html; charset=utf-8",
        body=(
            b"<!DOCTYPE html><html><body>"
            b'<a href="../../packages/pipe_algorithms_lib-1.0.0-py3-none-any.whl#sha256=00">1</a><br/>'
            b'<a href="https://files.example/pipe_algorithms_lib-1.2.0-py3-none-any.whl" data-yanked="">2</a>'
            b'<a href="pipe_algorithms_lib-1.1.0.tar.gz?x=1" data-requires-python="&gt;=3.8">3</a>'
            b'<a href="pipe_algorithms_lib-1.3.0-py3-none-any.whl" data-yanked>4</a>'
            b"</body></html>"
        ),
    )
    assert latest_release(canned.base + "/simple", PACKAGE) == "1.1.0"


def test_html_without_links_has_no_release(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(body=b"<html><body><p>Welcome, nothing here</p></body></html>")
    with pytest.raises(IndexLookupError) as error:
        latest_release(canned.base + "/simple", PACKAGE)
    assert str(error.value).startswith(f"{PACKAGE} has no final release on {canned.base}/simple")


@pytest.mark.parametrize(
    "body, detail",
    [
        (b"{not json", "not JSON"),
        (b'{"meta": {}, "name": "x"}', "no `files`"),
        (b'["files"]', "no `files`"),
        (b'{"files": {"a": 1}}', "not a list"),
        (b'{"files": [{"url": "x"}]}', "no `filename`"),
    ],
)
def test_malformed_json(canned: _CannedServer, body: bytes, detail: str) -> None:
    canned.routes[_PAGE] = _Route(content_type=JSON_TYPE, body=body)
    with pytest.raises(IndexLookupError) as error:
        latest_release(canned.base + "/simple", PACKAGE, username=USER, password=PASSWORD)
    message = str(error.value)
    assert f"the private index {canned.base}/simple sent a malformed PEP 691 JSON page for {PACKAGE}" in message
    assert detail in message and PASSWORD not in message


def test_http_500(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(status=500, body=b"boom")
    with pytest.raises(IndexLookupError) as error:
        latest_release(f"http://{USER}:{PASSWORD}@127.0.0.1:{canned.port}/simple", PACKAGE)
    message = str(error.value)
    assert message.startswith(f"the private index {canned.base}/simple answered HTTP 500")
    assert PACKAGE in message and PASSWORD not in message and f"{USER}:" not in message


def test_http_401_with_credentials_says_they_were_rejected(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})
    with pytest.raises(IndexLookupError) as error:
        latest_release(canned.base + "/simple", PACKAGE, username=USER, password=PASSWORD)
    assert "HTTP 401" in str(error.value) and "rejected" in str(error.value)
    assert PASSWORD not in str(error.value)


def test_timeout(canned: _CannedServer) -> None:
    canned.routes[_PAGE] = _Route(body=b"<a href='pipe_algorithms_lib-1.0.0.tar.gz'>x</a>", delay_s=10)
    started = time.monotonic()
    with pytest.raises(IndexLookupError) as error:
        latest_release(canned.base + "/simple", PACKAGE, password=PASSWORD, timeout=0.5)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert message.startswith(f"the private index {canned.base}/simple timed out after 0.5 s")
    assert PACKAGE in message and PASSWORD not in message


def test_follows_redirects(canned: _CannedServer) -> None:
    canned.routes[f"/old/simple/{PACKAGE}/"] = _Route(status=301, headers={"Location": _PAGE})
    canned.routes[_PAGE] = _Route(body=b'<a href="pipe_algorithms_lib-2.0.0-py3-none-any.whl">x</a>')
    assert latest_release(canned.base + "/old/simple", PACKAGE, username=USER, password=PASSWORD) == "2.0.0"
    assert [path for path, _ in canned.requests] == [f"/old/simple/{PACKAGE}/", _PAGE]
    assert all("authorization" in headers for _, headers in canned.requests)


def test_redirect_to_another_origin_drops_the_credentials(canned: _CannedServer) -> None:
    other = _CannedServer()
    try:
        canned.routes[_PAGE] = _Route(status=302, headers={"Location": f"{other.base}{_PAGE}"})
        other.routes[_PAGE] = _Route(body=b'<a href="pipe_algorithms_lib-2.0.0-py3-none-any.whl">x</a>')
        assert latest_release(canned.base + "/simple", PACKAGE, username=USER, password=PASSWORD) == "2.0.0"
        assert "authorization" in canned.requests[0][1]
        (_, headers), = other.requests
        assert "authorization" not in headers
    finally:
        other.stop()
