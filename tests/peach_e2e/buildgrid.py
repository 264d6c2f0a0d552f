"""A real REAPI cache server for the tests: BuildGrid, cache-only (CAS + ActionCache + ByteStream).

`install_buildgrid` puts the pinned BuildGrid of `buildgrid-pins.txt` into a CPython 3.11
virtualenv (BuildGrid needs Python >= 3.11), with pip isolated from the machine's configuration.
`BuildGridServer` serves on 127.0.0.1, keeps its CAS on disk (so a test can search it) and stops on
exit of its `with` block.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from peach_e2e.indexes import HOST, free_port

PINS = Path(__file__).resolve().parent / "buildgrid-pins.txt"

CONFIG = """\
server:
  - !channel
    address: "{host}:{port}"
    insecure-mode: true
authorization:
  method: none
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: true
instances:
  - name: ""
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
thread-pool-size: 20
"""


def install_buildgrid(dest: Path, python311: str) -> Path:
    """The `bgd` executable of a fresh venv at `dest` with the pinned BuildGrid."""
    subprocess.run([python311, "-m", "venv", str(dest)], check=True)
    cert = os.environ.get("SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    proc = subprocess.run(
        [str(dest / "bin/pip"), "install", "--isolated", "--disable-pip-version-check", "--no-input",
         "-r", str(PINS), *(["--cert", cert] if cert else [])],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dest / "bin/bgd"


class BuildGridServer:
    def __init__(self, bgd: Path, workdir: Path, port: Optional[int] = None) -> None:
        self.bgd = bgd
        self.workdir = workdir
        self.port = port
        self.cas = workdir / "cas"
        self._proc: Optional[subprocess.Popen] = None

    @property
    def address(self) -> str:
        return f"grpc://{HOST}:{self.port}"

    def start(self) -> "BuildGridServer":
        self.cas.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.workdir / "cache-only.yml"
        config.write_text(CONFIG.format(host=HOST, port=self.port, cas=self.cas))
        log = open(self.workdir / "server.log", "ab")
        self._proc = subprocess.Popen([str(self.bgd), "server", "start", str(config)], cwd=self.workdir,
                                      stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"BuildGrid exited: {(self.workdir / 'server.log').read_text()[-3000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("BuildGrid did not start listening within 60 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> "BuildGridServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def contains(root: Path, secret: bytes) -> list:
    """The files below `root` whose bytes contain `secret`."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if secret in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found

