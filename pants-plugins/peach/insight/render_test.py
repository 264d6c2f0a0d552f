from __future__ import annotations

import json

from peach.insight.drift import drift
from peach.insight.drift_test import zzebu
from peach.insight.render import (
    Note,
    render_drift_json,
    render_drift_text,
    render_show_json,
    render_show_text,
    render_why_json,
    render_why_text,
    table,
)
from peach.insight.show import show
from peach.insight.show_test import decl, lock, prov, view
from peach.insight.why import why

SMALL = lock(["torch", "tqdm"], {
    "torch": ("2.0.1", ["filelock", "triton ; sys_platform == 'linux'"]),
    "triton": ("2.0.0", ["torch", "filelock"]),
    "filelock": ("3.13.0", []),
    "tqdm": ("4.66.0", ["colorama ; platform_system == 'Windows'"]),
    "colorama": ("0.4.6", []),
}, files={
    "torch": [("torch-2.0.1-cp311-cp311-manylinux1_x86_64.whl", 650_000_000)],
    "triton": [("triton-2.0.0-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", 63_000_000)],
    "filelock": [("filelock-3.13.0-py3-none-any.whl", 11_000)],
    "tqdm": [("tqdm-4.66.0-py3-none-any.whl", 78_000)],
})
SMALL_PROVENANCE = (
    prov("torch==2.0.1", "environment", "peach.conf/ml.yaml:3",
         replaced=[decl("torch==2.0.0", "base", "peach.yaml:3")]),
    prov("tqdm", "base", "peach.yaml:4"),
)


def test_table_aligns_columns_and_notes() -> None:
    assert table(("a", "bb", "c"), [("xxx", "y", "z z"), Note("note"), ("x", "yyyy", "")]) == [
        "  a    bb    c",
        "  ---  ----  -",
        "  xxx  y     z z",
        "             note",
        "  x    yyyy",
    ]


def test_show_text() -> None:
    assert render_show_text([show(view(SMALL, SMALL_PROVENANCE))]) == """\
zzebu/ml: 4 packages (2 direct, 2 transitive)
  platform: x86_64-manylinux_2_28, Python 3.11
  size: 680.1 MiB (713,089,000 bytes, download size of the files the lock records)
  package   version  size       kind        from
  --------  -------  ---------  ----------  ----
  filelock  3.13.0   10.7 KiB   transitive  via torch
  torch     2.0.1    619.9 MiB  direct      torch==2.0.1  (environment, peach.conf/ml.yaml:3)
                                              replaced torch==2.0.0  (base, peach.yaml:3)
  tqdm      4.66.0   76.2 KiB   direct      tqdm  (base, peach.yaml:4)
  triton    2.0.0    60.1 MiB   transitive  via torch
  locked but not installed on this platform: colorama 0.4.6
"""


def test_show_text_sorted_by_size_and_unknown_sizes() -> None:
    text = render_show_text([show(view(SMALL, SMALL_PROVENANCE)).sorted_by("size")])
    rows = [line.split()[0] for line in text.splitlines()[5:] if not line.startswith(" " * 10)]
    assert rows[:4] == ["torch", "triton", "tqdm", "filelock"]
    unsized = lock(["tqdm"], {"tqdm": ("4.66.0", [])})
    text = render_show_text([show(view(unsized, (prov("tqdm", "base", "peach.yaml:4"),)))])
    assert "  size: 0 B (0 bytes, download size of the files the lock records); no size recorded for tqdm\n" in text
    assert "  tqdm     4.66.0   ?     direct" in text


def test_show_text_of_several_environments_and_an_empty_lock() -> None:
    empty = show(view(lock([], {}), (), environment="base"))
    text = render_show_text([empty, show(view(SMALL, SMALL_PROVENANCE))])
    assert text.startswith("zzebu/base: 0 packages (0 direct, 0 transitive)\n"
                           "  platform: x86_64-manylinux_2_28, Python 3.11\n"
                           "  size: 0 B (0 bytes, download size of the files the lock records)\n\nzzebu/ml: 4 packages")


def test_show_json() -> None:
    data = json.loads(render_show_json([show(view(SMALL, SMALL_PROVENANCE))]))
    assert [list(env) for env in data] == [["codops", "environment", "platform", "python_version", "packages",
                                            "not_installed", "size"]]
    torch = data[0]["packages"][1]
    assert torch == {"name": "torch", "version": "2.0.1", "direct": True, "requirement": "torch==2.0.1",
                     "tier": "environment", "source": "peach.conf/ml.yaml:3",
                     "replaced": [{"requirement": "torch==2.0.0", "tier": "base", "source": "peach.yaml:3"}],
                     "dropped_bare": [], "extras_from": [], "pulled_in_by": [], "size": 650_000_000,
                     "size_file": "torch-2.0.1-cp311-cp311-manylinux1_x86_64.whl"}
    assert list(torch) == ["name", "version", "direct", "requirement", "tier", "source", "replaced",
                           "dropped_bare", "extras_from", "pulled_in_by", "size", "size_file"]
    assert data[0]["size"] == {"kind": "download", "bytes": 713_089_000, "unknown": []}
    assert data[0]["packages"][0]["pulled_in_by"] == ["torch"]
    assert data[0]["not_installed"] == [{"name": "colorama", "version": "0.4.6"}]


def test_why_text() -> None:
    small = view(SMALL, SMALL_PROVENANCE)
    assert render_why_text([why(small, "filelock"), why(small, "torch"), why(small, "pytorch")]) == """\
filelock 3.13.0 is a transitive dependency of zzebu/ml
  platform: x86_64-manylinux_2_28, Python 3.11
  size: 10.7 KiB (filelock-3.13.0-py3-none-any.whl, download size)
  with what only it pulls in (no other package): 10.7 KiB, 0.0% of zzebu/ml's 680.1 MiB
  why:
    - no config declares it; it comes in through torch
  dependency paths (2):
    torch -> filelock
    torch -> triton -> filelock

torch 2.0.1 is a direct requirement of zzebu/ml
  platform: x86_64-manylinux_2_28, Python 3.11
  requirement: torch==2.0.1
  size: 619.9 MiB (torch-2.0.1-cp311-cp311-manylinux1_x86_64.whl, download size)
  with what only it pulls in (2 more packages): 680.0 MiB, 100.0% of zzebu/ml's 680.1 MiB
  removing its declaration would save 680.0 MiB (100.0%)
  declared:
    requirement   tier         source
    ------------  -----------  ------
    torch==2.0.0  base         peach.yaml:3
    torch==2.0.1  environment  peach.conf/ml.yaml:3  <- wins
  why:
    - the last specified entry wins: `environment` (peach.conf/ml.yaml:3) comes after `base` (peach.yaml:3)
    - result: `torch==2.0.1`
  dependency paths (1):
    torch

pytorch is not in zzebu/ml; did you mean torch?
"""


def test_why_text_caps_paths() -> None:
    from peach.insight.why_test import diamonds

    text = render_why_text([why(view(diamonds(8), (prov("a==1", "base", "peach.yaml:3"),)), "z")])
    assert "  dependency paths (256):\n" in text
    assert text.endswith("    a -> x0 -> x1 -> y2 -> y3 -> x4 -> x5 -> x6 -> y7 -> z\n    ... and 206 more\n")


def test_why_json() -> None:
    (data,) = json.loads(render_why_json([why(view(SMALL, SMALL_PROVENANCE), "pytorch")]))
    assert data["present"] is False and data["did_you_mean"] == "torch"
    assert data["message"] == "pytorch is not in zzebu/ml; did you mean torch?"
    assert list(data)[:6] == ["codops", "environment", "platform", "python_version", "query", "name"]


def test_drift_text() -> None:
    assert render_drift_text(drift(zzebu())) == """\
zzebu (x86_64-manylinux_2_28, Python 3.11): 5 packages at different versions across 3 environments \
(3 drift, 2 intended)
  package   base    cv      ml      status    why
  --------  ------  ------  ------  --------  ---
  filelock  -       3.13.0  3.12.0  intended  pinned in ml by `filelock==3.12.0` (environment, peach.conf/ml.yaml:4)
  numpy     1.26.4  2.0.0   1.26.4  drift     nobody pins it: transitive in base, cv, ml
  pandas    2.2.0   2.2.0   2.1.0   drift     nobody pins it: bare `pandas` in base, cv, ml
  torch     -       2.0.0   2.0.1   intended  pinned in cv by `torch==2.0.0` (environment, peach.conf/cv.yaml:3); \
ml by `torch==2.0.1` (environment, peach.conf/ml.yaml:3)
  tqdm      4.66.0  4.67.0  4.66.0  drift     every environment asks for `>=4.60` (base), yet the resolutions \
chose different versions
"""
    assert render_drift_text(drift([])) == "no environments to compare\n"


def test_drift_json() -> None:
    data = json.loads(render_drift_json(drift(zzebu())))
    assert (data["drift_count"], data["intended_count"]) == (3, 2)
    torch = data["codops"][0]["packages"][3]
    assert torch["versions"] == {"cv": "2.0.0", "ml": "2.0.1"}
    assert list(torch) == ["name", "status", "reason", "versions", "environments"]
    assert render_drift_json(drift(zzebu())) == render_drift_json(drift(list(reversed(zzebu()))))
