from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from peach.uv import runner
from peach.uv.runner import FILE_URL_TOKEN

# A stand-in for uv: checks the lock it is given names this directory, then writes one that does.
FAKE_UV = """\
import os, sys
lock = "proj/uv.lock"
here = os.getcwd()
assert open(lock).read() == f'index = "file://{here}/idx"\\n', open(lock).read()
open(lock, "w").write(f'index = "file://{here}/idx"\\nwheel = "file://{here}/idx/a.whl"\\n')
print(f"resolved in {here}")
print(f"note: {here}/proj", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/uv.lock").write_text(f'index = "{FILE_URL_TOKEN}/idx"\n')
    fake = tmp_path / "fake_uv.py"
    fake.write_text(FAKE_UV)
    script = tmp_path / "uv"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {fake} \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PEACH_UV_LOCK", "proj/uv.lock")
    monkeypatch.setattr(runner, "_uv_binary", lambda: str(script))
    return tmp_path


def test_the_lock_and_the_output_do_not_name_the_sandbox(sandbox: Path, capfd) -> None:
    assert runner.main(["0"]) == 0
    assert (sandbox / "proj/uv.lock").read_text() == (
        f'index = "{FILE_URL_TOKEN}/idx"\nwheel = "{FILE_URL_TOKEN}/idx/a.whl"\n')
    out, err = capfd.readouterr()
    assert out == "resolved in $PEACH_BUILD_ROOT\n" and err == "note: $PEACH_BUILD_ROOT/proj\n"
    assert str(sandbox) not in out + err


def test_a_failing_uv_keeps_its_exit_code(sandbox: Path) -> None:
    assert runner.main(["2"]) == 2


def test_without_a_lock(sandbox: Path, monkeypatch) -> None:
    monkeypatch.delenv("PEACH_UV_LOCK")
    os.unlink(sandbox / "proj/uv.lock")
    (sandbox / "proj/uv.lock").write_text(f'index = "file://{sandbox}/idx"\n')
    assert runner.main(["0"]) == 0
