"""Real package indexes on 127.0.0.1 for the end-to-end tests.

- `build_wheel` writes small, valid, installable pure-Python wheels with the standard library alone.
- `build_world` lays out a private and a public directory of such wheels: a private company package
  pair, a "realistic" public dependency graph, and on the public side an attacker's higher version of
  every private package (the dependency-confusion bait).
- `PypiServer` serves one such directory with a real `pypiserver` (optionally behind basic auth).
- `CannedServer` answers with whatever a test asks for: an error status, a malformed page, a delay.

Every server binds 127.0.0.1 only, has a bounded lifetime, and is stopped on exit of its `with` block.
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

HOST = "127.0.0.1"

# ---------------------------------------------------------------------------------------------------
# Wheels
# ---------------------------------------------------------------------------------------------------

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_EXTRA_RX = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: `Pipe_Algorithms.Lib` -> `pipe-algorithms-lib`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_part(name: str) -> str:
    """The distribution part of a wheel filename (and the import name used here): `pipe_algorithms_lib`."""
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_filename(name: str, version: str) -> str:
    return f"{wheel_name_part(name)}-{version.replace('-', '_')}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def _metadata(name: str, version: str, requires: Sequence[str], python_requires: Optional[str]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {name}, a fake package for peach's end-to-end tests"]
    if python_requires:
        lines.append(f"Requires-Python: {python_requires}")
    extras: List[str] = []
    for req in requires:
        for extra in _EXTRA_RX.findall(req):
            if extra not in extras:
                extras.append(extra)
    lines += [f"Provides-Extra: {extra}" for extra in extras]
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    requires: Sequence[str] = (),
    python_requires: Optional[str] = None,
    *,
    module_source: str = "",
) -> Path:
    """Write `<dest_dir>/<name>-<version>-py3-none-any.whl` and return its path.

    The wheel holds a package `<wheel_name_part(name)>/__init__.py` with `__version__ = "<version>"`
    (plus `module_source`, if given), and METADATA / WHEEL / RECORD. Requirements with an
    `extra == "x"` marker also declare `Provides-Extra: x`. Same arguments, same bytes.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    module = wheel_name_part(name)
    dist_info = f"{module}-{version.replace('-', '_')}.dist-info"
    init = f'"""{name} {version}: a fake package for peach\'s end-to-end tests."""\n__version__ = "{version}"\n'
    if module_source:
        init += module_source if module_source.endswith("\n") else module_source + "\n"
    wheel_meta = (
        "Wheel-Version: 1.0\n"
        "Generator: peach-e2e-indexes\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n\n"
    )
    files: Dict[str, bytes] = {
        f"{module}/__init__.py": init.encode(),
        f"{dist_info}/METADATA": _metadata(name, version, requires, python_requires).encode(),
        f"{dist_info}/WHEEL": wheel_meta.encode(),
    }
    # Package files first, then .dist-info, each sorted; RECORD last.
    ordered = sorted(files, key=lambda p: (p.startswith(dist_info + "/"), p))
    record_path = f"{dist_info}/RECORD"
    record = "".join(f"{p},{_record_hash(files[p])},{len(files[p])}\n" for p in ordered)
    record += f"{record_path},,\n"
    files[record_path] = record.encode()
    ordered.append(record_path)

    target = dest_dir / wheel_filename(name, version)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for path in ordered:
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that external_attr means the same everywhere.
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, files[path])
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------------------------------------------
# The world: a private and a public index
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """One wheel to build: on which index, with which requirements."""

    index: str  # "private" or "public"
    name: str
    version: str
    requires: Tuple[str, ...] = ()
    python_requires: Optional[str] = ">=3.8"
    module_source: str = ""

    @property
    def filename(self) -> str:
        return wheel_filename(self.name, self.version)


ATTACKER_SOURCE = "COMPROMISED = True  # served by the public index: dependency-confusion bait\n"
PRIVATE_SOURCE = "COMPROMISED = False\n"

# The company's own packages, only on the private index.
PRIVATE_DISTS: Tuple[Dist, ...] = (
    Dist("private", "pipe-algorithms-lib", "1.0.0", ("numpy-lite>=1",), module_source=PRIVATE_SOURCE),
    Dist("private", "pipe-algorithms-lib", "1.1.0", ("numpy-lite>=1",), module_source=PRIVATE_SOURCE),
    Dist("private", "pipe-consumer", "1.0.0", ("pipe-algorithms-lib>=1.0",), module_source=PRIVATE_SOURCE),
)

_TQDM = ('colorama-lite; platform_system == "Windows"',)

# A small public world with real edges, markers, an extra and several versions per package.
PUBLIC_DISTS: Tuple[Dist, ...] = (
    # numeric stack
    Dist("public", "numpy-lite", "1.0.0"),
    Dist("public", "numpy-lite", "1.5.0"),
    Dist("public", "numpy-lite", "2.0.0"),
    Dist("public", "scipy-lite", "1.10.0", ("numpy-lite>=1.0,<2",)),
    Dist("public", "scipy-lite", "1.13.0", ("numpy-lite>=1.5",)),
    Dist("public", "colorama-lite", "0.4.6"),
    Dist("public", "tqdm-lite", "4.68.2", _TQDM),
    Dist("public", "tqdm-lite", "4.68.3", _TQDM),
    Dist("public", "implicit-lite", "0.7.0", ("numpy-lite>=1.0", "scipy-lite>=0.16", "tqdm-lite>=4.27")),
    Dist("public", "implicit-lite", "0.7.2", ("numpy-lite>=1.0", "scipy-lite>=0.16", "tqdm-lite>=4.27")),
    # ML stack
    Dist("public", "torch-lite", "2.0.0", ("numpy-lite>=1.0", "typing-extensions-lite>=4.5")),
    Dist("public", "torch-lite", "2.1.0", ("numpy-lite>=1.5", "typing-extensions-lite>=4.8")),
    Dist("public", "tokenizers-lite", "0.15.0"),
    Dist("public", "tokenizers-lite", "0.19.0"),
    Dist("public", "transformers-lite", "4.30.0",
         ("numpy-lite>=1.0", "tokenizers-lite>=0.13,<0.16", "torch-lite>=2.0", "tqdm-lite>=4.27")),
    Dist("public", "transformers-lite", "4.40.0",
         ("numpy-lite>=1.5", "tokenizers-lite>=0.19,<0.20", "torch-lite>=2.0", "tqdm-lite>=4.27")),
    # web stack
    Dist("public", "typing-extensions-lite", "4.5.0"),
    Dist("public", "typing-extensions-lite", "4.9.0"),
    Dist("public", "idna-lite", "3.6"),
    Dist("public", "sniffio-lite", "1.3.0"),
    Dist("public", "anyio-lite", "3.7.0", ("idna-lite>=2.8", "sniffio-lite>=1.1")),
    Dist("public", "anyio-lite", "4.3.0", ("idna-lite>=2.8", "sniffio-lite>=1.1", "typing-extensions-lite>=4.1")),
    Dist("public", "certifi-lite", "2024.2.2"),
    Dist("public", "httpx-lite", "0.25.0", ("anyio-lite", "certifi-lite", "idna-lite", "sniffio-lite")),
    Dist("public", "httpx-lite", "0.27.0", ("anyio-lite", "certifi-lite", "idna-lite", "sniffio-lite")),
    Dist("public", "pydantic-lite", "1.10.0", ("typing-extensions-lite>=4.2",)),
    Dist("public", "pydantic-lite", "2.5.0", ("typing-extensions-lite>=4.6",)),
    Dist("public", "starlette-lite", "0.27.0", ("anyio-lite>=3.4,<5",)),
    Dist("public", "starlette-lite", "0.37.0", ("anyio-lite>=3.4,<5",)),
    Dist("public", "fastapi-lite", "0.100.0", ("pydantic-lite>=1.7.4,<3", "starlette-lite>=0.27,<0.28")),
    Dist("public", "fastapi-lite", "0.110.0",
         ("pydantic-lite>=1.7.4,<3", "starlette-lite>=0.36.3,<0.38", "typing-extensions-lite>=4.8")),
    Dist("public", "h11-lite", "0.14.0"),
    Dist("public", "httptools-lite", "0.6.1"),
    Dist("public", "uvicorn-lite", "0.29.0", ("h11-lite>=0.8",)),
    Dist("public", "uvicorn-lite", "0.30.0", ("h11-lite>=0.8", 'httptools-lite>=0.5.0; extra == "standard"')),
    Dist("public", "ray-serve-lite", "2.9.0", ("fastapi-lite", "pydantic-lite<2", "uvicorn-lite")),
    Dist("public", "ray-serve-lite", "2.10.0", ("fastapi-lite", "pydantic-lite", "uvicorn-lite[standard]")),
    Dist("public", "orjson-lite", "3.9.0"),
    Dist("public", "orjson-lite", "3.10.0"),
    # The attacker: a higher version of every private package, on the public index.
    Dist("public", "pipe-algorithms-lib", "99.0.0", module_source=ATTACKER_SOURCE, python_requires=None),
    Dist("public", "pipe-consumer", "99.0.0", module_source=ATTACKER_SOURCE, python_requires=None),
)


@dataclass(frozen=True)
class BuiltWheel:
    dist: Dist
    path: Path


@dataclass(frozen=True)
class IndexWorld:
    root: Path
    private_dir: Path
    public_dir: Path
    wheels: Tuple[BuiltWheel, ...]

    @property
    def dists(self) -> Tuple[Dist, ...]:
        return tuple(w.dist for w in self.wheels)

    def versions(self, index: str, name: str) -> Tuple[str, ...]:
        """The versions of `name` served by `index` ("private" or "public"), in build order."""
        norm = normalize_name(name)
        return tuple(w.dist.version for w in self.wheels if w.dist.index == index and normalize_name(w.dist.name) == norm)

    def wheel(self, index: str, name: str, version: str) -> Path:
        norm = normalize_name(name)
        for w in self.wheels:
            if w.dist.index == index and normalize_name(w.dist.name) == norm and w.dist.version == version:
                return w.path
        raise KeyError(f"{name} {version} is not on the {index} index")


def build_world(root: Path) -> IndexWorld:
    """Build `<root>/private/` and `<root>/public/` (see PRIVATE_DISTS and PUBLIC_DISTS)."""
    root = Path(root)
    dirs = {"private": root / "private", "public": root / "public"}
    built = []
    for dist in PRIVATE_DISTS + PUBLIC_DISTS:
        path = build_wheel(dirs[dist.index], dist.name, dist.version, dist.requires, dist.python_requires,
                           module_source=dist.module_source)
        built.append(BuiltWheel(dist, path))
    return IndexWorld(root, dirs["private"], dirs["public"], tuple(built))


# ---------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# No proxy from the environment may see (or swallow) requests to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, *, auth: Optional[Tuple[str, str]] = None, timeout: float = 5.0) -> Tuple[int, bytes]:
    """GET `url` without any proxy: (status, body). HTTP errors are returned, not raised."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def child_python_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """An environment for `sys.executable` children that import what this process can import.

    Only PATH, HOME and the locale are passed on, and PYTHONPATH is this process's `sys.path`, so a
    child finds pypiserver / pip whether the tests run from a venv or a PEX.
    """
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.exists(p))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


# Runs pypiserver as `python -m pypiserver ...` would, and exits by itself when its parent dies or its
# lifetime is over, so that not even a killed test run leaves a server behind.
_BOOTSTRAP = """\
import os, runpy, sys, threading, time
parent, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
def _watch():
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.25)
    os._exit(3)
threading.Thread(target=_watch, daemon=True).start()
sys.argv = ["pypiserver"] + sys.argv[3:]
runpy.run_module("pypiserver", run_name="__main__", alter_sys=True)
"""


class ServerError(RuntimeError):
    pass


class PypiServer:
    """A real `pypiserver` 2.0.1 serving `packages_dir` on 127.0.0.1, as a context manager.

    With `auth=(user, password)` both listing and downloads need basic auth: no credentials get 401,
    wrong ones 403. Command run (pypiserver 2.0.1 also accepts the legacy form without `run`):
        python -m pypiserver run -i 127.0.0.1 -p PORT --disable-fallback --server wsgiref
            --backend simple-dir --hash-algo sha256 [-P htpasswd -a list,download | -a . -P .] DIR
    """

    def __init__(
        self,
        packages_dir: Path,
        *,
        auth: Optional[Tuple[str, str]] = None,
        startup_timeout: float = 20.0,
        lifetime: float = 1800.0,
        port: Optional[int] = None,
    ) -> None:
        self.packages_dir = Path(packages_dir)
        self.auth = auth
        self.fixed_port = port  # serve on this port (a restart with new credentials keeps the URL)
        self.startup_timeout = startup_timeout
        self.lifetime = lifetime
        self.port: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._workdir: Optional[Path] = None
        self._log_text = ""

    # -- URLs ---------------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise ServerError("the server is not running")
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The simple index: `http://127.0.0.1:<port>/simple` (no trailing slash, no credentials)."""
        return f"{self.root_url}/simple"

    @property
    def url_with_credentials(self) -> str:
        """`http://user:password@127.0.0.1:<port>/simple` (just `url` without auth)."""
        if self.auth is None:
            return self.url
        from urllib.parse import quote

        user, password = (quote(part, safe="") for part in self.auth)
        return f"http://{user}:{password}@{HOST}:{self.port}/simple"

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> "PypiServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "PypiServer":
        if self._proc is not None:
            raise ServerError("already started")
        if not self.packages_dir.is_dir():
            raise ServerError(f"no such packages directory: {self.packages_dir}")
        self._workdir = Path(tempfile.mkdtemp(prefix="peach-pypiserver-"))
        try:
            auth_args = ["-a", ".", "-P", "."]
            if self.auth is not None:
                htpasswd = self._workdir / "htpasswd"
                _write_htpasswd(htpasswd, *self.auth)
                auth_args = ["-P", str(htpasswd), "-a", "list,download"]
            last_error = ""
            for _attempt in range(3 if self.fixed_port is None else 1):  # a port taken meanwhile: another
                port = self.fixed_port or free_port()
                self._spawn(port, auth_args)
                error = self._wait_until_up(port)
                if error is None:
                    self.port = port
                    return self
                last_error = error
                self._terminate()
            raise ServerError(f"pypiserver did not come up on {HOST}: {last_error}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._terminate()
        self.port = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def log(self) -> str:
        """What the server wrote so far (its stdout and stderr), for failure messages."""
        if self._workdir is not None and (self._workdir / "server.log").exists():
            return (self._workdir / "server.log").read_text(errors="replace")
        return self._log_text

    # -- internals ----------------------------------------------------------------------------------

    def _spawn(self, port: int, auth_args: Sequence[str]) -> None:
        assert self._workdir is not None
        args = [
            sys.executable, "-c", _BOOTSTRAP, str(os.getpid()), str(self.lifetime),
            "run", "-i", HOST, "-p", str(port), "--disable-fallback", "--server", "wsgiref",
            "--backend", "simple-dir", "--hash-algo", "sha256", *auth_args, str(self.packages_dir),
        ]
        with open(self._workdir / "server.log", "ab") as log:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self._workdir, env=child_python_env(),
            )

    def _wait_until_up(self, port: int) -> Optional[str]:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        up = {200, 401} if self.auth is not None else {200}
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return f"it exited with {self._proc.returncode}:\n{self.log()[-4000:]}"
            try:
                status, _ = http_get(f"http://{HOST}:{port}/simple/", timeout=1.0)
            except (OSError, urllib.error.URLError):
                status = None
            if status in up:
                return None
            if status is not None:
                return f"/simple/ answered {status}:\n{self.log()[-4000:]}"
            time.sleep(0.1)
        return f"/simple/ did not answer within {self.startup_timeout} s:\n{self.log()[-4000:]}"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._log_text = self.log()


def _write_htpasswd(path: Path, user: str, password: str) -> None:
    from passlib.apache import HtpasswdFile

    # apr_md5_crypt: Apache's own default, and cheap to check on every request.
    htpasswd = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(user, password)
    htpasswd.save()


# ---------------------------------------------------------------------------------------------------
# Canned answers
# ---------------------------------------------------------------------------------------------------

# Bodies that uv rejects outright ("Received some unexpected JSON/HTML from ..."); a merely garbled
# HTML page is read by uv as "no versions" instead.
PEP691_JSON = "application/vnd.pypi.simple.v1+json"
MALFORMED_JSON = b'{"meta": {"api-version": "1.0"}, "name": "numpy-lite", "files": [{"filename": '
MALFORMED_HTML = (
    b'<!DOCTYPE html>\n<html><body>\n'
    b'<a href="numpy_lite-1.0.0-py3-none-any.whl#sha256=nothex">numpy_lite-1.0.0-py3-none-any.whl</a>\n'
)


@dataclass(frozen=True)
class CannedResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before the status line is sent
    headers: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: Optional[str]


Responder = Union[CannedResponse, Callable[[str], Optional[CannedResponse]]]


class CannedServer:
    """A stdlib HTTP server on 127.0.0.1, in a thread, that answers every request under `/simple/`
    with `responder` (a `CannedResponse`, or a function of the path returning one), and anything
    else with 404. It records every request, stops after `lifetime` seconds at the latest, and
    cuts short the delays of pending answers when it stops.
    """

    def __init__(self, responder: Responder, *, lifetime: float = 120.0) -> None:
        self.responder = responder
        self.lifetime = lifetime
        self._requests: List[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: Optional[http.server.ThreadingHTTPServer] = None
        self._threads: List[threading.Thread] = []

    # Ready-made ones.
    @classmethod
    def status(cls, code: int, *, lifetime: float = 120.0) -> "CannedServer":
        headers = (("WWW-Authenticate", 'Basic realm="canned"'),) if code == 401 else ()
        return cls(CannedResponse(code, f"{code}\n".encode(), "text/plain", headers=headers), lifetime=lifetime)

    @classmethod
    def malformed(cls, kind: str = "json", *, lifetime: float = 120.0) -> "CannedServer":
        """A 200 with a truncated PEP 691 JSON page (`kind="json"`) or an HTML page whose link has a
        bad sha256 fragment (`kind="html"`)."""
        if kind == "json":
            return cls(CannedResponse(200, MALFORMED_JSON, PEP691_JSON), lifetime=lifetime)
        if kind == "html":
            return cls(CannedResponse(200, MALFORMED_HTML), lifetime=lifetime)
        raise ValueError(f"kind must be 'json' or 'html', not {kind!r}")

    @classmethod
    def slow(cls, delay: float, *, lifetime: float = 120.0) -> "CannedServer":
        return cls(CannedResponse(200, b"<!DOCTYPE html><html><body></body></html>\n", delay=delay),
                   lifetime=lifetime)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ServerError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/simple"

    @property
    def requests(self) -> Tuple[Request, ...]:
        with self._lock:
            return tuple(self._requests)

    def __enter__(self) -> "CannedServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> "CannedServer":
        if self._httpd is not None:
            raise ServerError("already started")
        self._httpd = http.server.ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._httpd.daemon_threads = True
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="canned-server", daemon=True)
        reaper = threading.Thread(target=self._reap, name="canned-server-lifetime", daemon=True)
        self._threads = [serve, reaper]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []

    def _reap(self) -> None:
        if not self._stopping.wait(self.lifetime):
            httpd = self._httpd
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()

    def _respond(self, path: str) -> CannedResponse:
        if not path.startswith("/simple"):
            return CannedResponse(404, b"not found\n", "text/plain")
        if isinstance(self.responder, CannedResponse):
            return self.responder
        return self.responder(path) or CannedResponse(404, b"not found\n", "text/plain")

    def _handler_class(self) -> type:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                with server._lock:
                    server._requests.append(Request(self.command, self.path, self.headers.get("Authorization")))
                canned = server._respond(self.path.split("?", 1)[0])
                if canned.delay and server._stopping.wait(canned.delay):
                    return
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(canned.body)))
                for key, value in canned.headers:
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(canned.body)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        return Handler
