"""Same inputs, same bytes, from one process to the next.

Each renderer runs in two separate interpreters with different hash seeds (so set and dict
orderings that depend on string hashes differ between them), and their outputs must be equal. One
rendering compared with itself in one process would pass even with such an ordering bug.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

# The modules the snippets use: imported here so that Pants puts them in the test's sandbox.
from peach.config import (
    model_test,  # noqa: F401
    requirements_test,  # noqa: F401
)
from peach.insight import drift_test, render, show_test, sizes_test  # noqa: F401
from peach.uv import pyproject_test  # noqa: F401

SNIPPETS = {
    "pyproject.toml": (
        "from peach.uv.pyproject import render_pyproject\n"
        "from peach.uv.pyproject_test import SPEC\n"
        "print(render_pyproject(SPEC))"
    ),
    "peach-show": (
        "from peach.insight.render import render_show_json, render_show_text\n"
        "from peach.insight.show import show\n"
        "from peach.insight.show_test import view\n"
        "print(render_show_text([show(view())]) + render_show_json([show(view())]))"
    ),
    "peach-why": (
        "from peach.insight.render import render_why_json, render_why_text\n"
        "from peach.insight.why import why\n"
        "from peach.insight.show_test import view\n"
        "results = [why(view(), 'numpy'), why(view(), 'torch')]\n"
        "print(render_why_text(results) + render_why_json(results))"
    ),
    "peach-drift": (
        "from peach.insight.drift import drift\n"
        "from peach.insight.drift_test import acme, zzebu\n"
        "from peach.insight.render import render_drift_json, render_drift_text\n"
        "result = drift(zzebu() + acme())\n"
        "print(render_drift_text(result) + render_drift_json(result))"
    ),
    "size budget": (
        "from peach.insight.sizes import budget_problem, environment_size, parse_budgets\n"
        "from peach.insight.sizes_test import ARM, ML, ML_PROVENANCE, X86\n"
        "size = environment_size(ML, [X86, ARM], '3.11')\n"
        "print(size.as_json(), budget_problem('zzebu', 'ml', [p.requirement for p in ML_PROVENANCE], ML_PROVENANCE, ML,\n"
        "      size, parse_budgets({'zzebu/*': '1kB', '*/ml': 10}), [X86, ARM], '3.11'))"
    ),
    "model": (
        "from peach.config import build_model\n"
        "from peach.config.model_test import SPEC_EXAMPLE, settings\n"
        "print(repr(build_model([('svc/peach.conf/app.yaml', SPEC_EXAMPLE.encode())], settings())))"
    ),
    "requirements": (
        "from peach.config.requirements_test import entries, final\n"
        "print(final(entries('base', 'b', 'a==1', 'c[x]'), entries('environment', 'a==2', 'c==3', 'd', 'e', 'f')))"
    ),
}


def run(code: str, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("what", sorted(SNIPPETS))
def test_two_processes_give_the_same_bytes(what: str) -> None:
    first, second = run(SNIPPETS[what], "1"), run(SNIPPETS[what], "4242")
    assert len(first) > 30  # it rendered something
    assert first == second
