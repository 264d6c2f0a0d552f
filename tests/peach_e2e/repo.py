"""Helpers for end-to-end tests: fresh checkouts of this repo, and runs of its launcher in them.

Each `Checkout` runs Pants with its own daemon (pantsd), which later commands in the same checkout
reuse; `stop()` ends it. A checkout may get a HOME of its own (empty caches: a new machine).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

# What a user's shell passes on; everything else (PANTS_*, UV_*, ...) is left out on purpose.
PASSED_ENV = ("PATH", "HOME", "PYENV_ROOT", "SSL_CERT_FILE", "SSL_CERT_DIR", "XDG_CACHE_HOME", "LANG", "LC_ALL")


def repo_root() -> Path:
    """The checkout under test, from `[test].extra_env_vars` in pants.toml."""
    root = os.environ.get("PEACH_REPO_ROOT")
    if not root:
        raise RuntimeError("PEACH_REPO_ROOT is not set: run the end-to-end tests with `./pants test`.")
    return Path(root)


def user_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(extra or {})
    return env


def fresh_checkout(dest: Path) -> Path:
    """`git clone` of the repo, with the working tree's uncommitted files laid over it.

    So the test sees what a fresh clone of the work would see, committed or not.
    """
    root = repo_root()
    subprocess.run(["git", "clone", "-q", str(root), str(dest)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = root / rel
        target = dest / rel
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.exists() and not source.exists():
            target.unlink()
    return dest


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def pants(checkout: Path, args: Sequence[str], env: Optional[Mapping[str, str]] = None, timeout: int = 900) -> Run:
    """Run the repo's launcher in `checkout`, without pantsd, as a user would from a shell."""
    proc = subprocess.run(
        ["./pants", "--no-pantsd", *args],
        cwd=checkout,
        env=user_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


class Checkout:
    """A checkout whose Pants commands share one daemon (started by the first, ended by `stop`)."""

    def __init__(self, path: Path, env: Optional[Mapping[str, str]] = None) -> None:
        self.path = path
        self.env = dict(env or {})

    @classmethod
    def clone(cls, dest: Path, env: Optional[Mapping[str, str]] = None) -> "Checkout":
        return cls(fresh_checkout(dest), env)

    def pants(self, *args: str, env: Optional[Mapping[str, str]] = None, timeout: int = 900) -> Run:
        proc = subprocess.run(
            ["./pants", *args],
            cwd=self.path,
            env=user_env({**self.env, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def write(self, files: Mapping[str, str]) -> None:
        for rel, text in files.items():
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.path / rel).write_text(text)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def dist_files(self) -> Dict[str, bytes]:
        root = self.path / "dist"
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
            if root.exists() else {}

    def stop(self) -> None:
        """End this checkout's pantsd, if one runs."""
        for pid_file in self.path.glob(".pids/**/pantsd/pid"):
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
            except (ValueError, ProcessLookupError, OSError):
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def uv_processes(run: Run) -> List[str]:
    """The environments whose `uv lock` ran in `run` (cache hits run nothing and log nothing)."""
    import re

    return sorted(set(re.findall(r"Completed: uv lock (\S+)$", run.stderr, re.MULTILINE)))
