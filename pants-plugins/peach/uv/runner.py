"""The entry point of peach's uv tool: runs uv in a Pants sandbox, so that what it writes does not
depend on where the sandbox is.

It is the `main` of the `uv.pex` that peach builds (`peach.uv.tool`) for the uv processes that may
see the sandbox's path (a private index that is a directory of wheels; every other uv process runs
uv's binary directly), and runs with that venv's interpreter: standard library only, no imports from peach or Pants, Python 3.7+.

    python -m peach_uv_runner <uv arguments>

uv records a directory index (a private index that is a directory of wheels) in `uv.lock` as a
`file://` URL of its absolute path, which is the sandbox's. So, when `PEACH_UV_LOCK` names a lock
file (relative to the sandbox):

- before uv runs, `file:///$PEACH_BUILD_ROOT/` in that file becomes `file://<sandbox>/`, so a lock
  written elsewhere is current here;
- after uv ran, `file://<sandbox>/` becomes `file:///$PEACH_BUILD_ROOT/` again.

`PEACH_UV_INPUTS` names more files (`:`-separated) that get the first step only.

uv's output and messages get the same treatment (the sandbox shown as `$PEACH_BUILD_ROOT`), so the
results are the same bytes in every sandbox and on every machine, which is what lets Pants cache
them locally and remotely.
"""
from __future__ import annotations

import os
import subprocess
import sys

ROOT_TOKEN = "$PEACH_BUILD_ROOT"
FILE_URL_TOKEN = "file:///" + ROOT_TOKEN


def _sandbox_forms() -> list:
    here = os.getcwd()
    forms = {here, os.path.realpath(here)}
    return sorted(forms, key=len, reverse=True)


def to_sandbox(text: str) -> str:
    return text.replace(FILE_URL_TOKEN, "file://" + os.getcwd())


def from_sandbox(text: str) -> str:
    for form in _sandbox_forms():
        text = text.replace("file://" + form, FILE_URL_TOKEN).replace(form, ROOT_TOKEN)
    return text


def _rewrite(path: str, change) -> None:
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = change(text)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)


def _uv_binary() -> str:
    from uv import find_uv_bin  # pants: no-infer-dep (the uv venv this runs in has it)

    return find_uv_bin()


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    lock = os.environ.get("PEACH_UV_LOCK")
    for path in filter(None, [lock, *os.environ.get("PEACH_UV_INPUTS", "").split(":")]):
        _rewrite(path, to_sandbox)
    proc = subprocess.run([_uv_binary(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if lock and proc.returncode == 0:
        _rewrite(lock, from_sandbox)
    sys.stdout.write(from_sandbox(proc.stdout.decode("utf-8", "replace")))
    sys.stderr.write(from_sandbox(proc.stderr.decode("utf-8", "replace")))
    sys.stdout.flush()
    sys.stderr.flush()
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
