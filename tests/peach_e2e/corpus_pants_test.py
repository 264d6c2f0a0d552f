"""Real Pants over the whole bad-config corpus: every message, non-zero exit, no traceback.

All corpus files go into one `svc/peach.conf/` directory (the path their expected messages assume)
and one Pants run: the model reports every file's problems together. A few cases are about merging
within a codops, and the other files of the same codops change their outcome; those run alone.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from peach_e2e.repo import Checkout, repo_root

HEADER = "1 problem in the peach configs:\n\n"


def run_cases(checkout: Checkout, cases) -> str:
    target = checkout.path / "svc/peach.conf"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for case in cases:
        shutil.copy(case, target / case.name)
    run = checkout.pants("list", "::")
    assert run.returncode != 0
    assert "Traceback (most recent call last)" not in run.stderr
    return run.stderr


def missing(cases, stderr: str) -> list:
    found = []
    for case in cases:
        expected = case.with_suffix(".expected").read_text().rstrip("\n")
        assert expected.startswith(HEADER)
        if expected[len(HEADER):] not in stderr:
            found.append(case)
    return found


def test_every_corpus_message_through_pants(tmp_path: Path) -> None:
    checkout = Checkout.clone(tmp_path / "peach")
    try:
        shutil.rmtree(checkout.path / "example")
        checkout.write({"BUILD": "peach_config(name='peach', sources=['svc/peach.conf/*.yaml'])\n"})
        cases = sorted((repo_root() / "tests/bad_configs").glob("*.yaml"))
        assert len(cases) >= 60
        interacting = missing(cases, run_cases(checkout, cases))
        assert len(interacting) <= 10, [c.name for c in interacting]
        for case in interacting:
            stderr = run_cases(checkout, [case])
            assert missing([case], stderr) == [], stderr
    finally:
        checkout.stop()
