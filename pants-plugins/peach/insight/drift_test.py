from __future__ import annotations

import pytest

from peach.insight.drift import DriftEntry, DriftStatus, classify, drift, has_drift
from peach.insight.show_test import LINUX, WINDOWS, lock, prov, view

INTENDED, DRIFT = DriftStatus.INTENDED, DriftStatus.DRIFT

INJECTED = prov("pipe-algorithms-lib==1.1.0", "injected", "latest release on the private index")
TQDM = prov("tqdm>=4.60", "base", "peach.yaml:4")
PANDAS = prov("pandas", "base", "peach.yaml:5")


def zzebu(platform=LINUX):
    base = view(lock(["pipe-algorithms-lib", "tqdm", "pandas"], {
        "pipe-algorithms-lib": ("1.1.0", ["numpy"]), "tqdm": ("4.66.0", []), "pandas": ("2.2.0", ["numpy"]),
        "numpy": ("1.26.4", [])}), (INJECTED, TQDM, PANDAS), environment="base", platform=platform)
    cv = view(lock(["pipe-algorithms-lib", "tqdm", "pandas", "torch", "pillow"], {
        "pipe-algorithms-lib": ("1.1.0", ["numpy"]), "tqdm": ("4.67.0", []), "pandas": ("2.2.0", ["numpy"]),
        "numpy": ("2.0.0", []), "torch": ("2.0.0", ["filelock"]), "filelock": ("3.13.0", []),
        "pillow": ("10.0.0", [])}),
        (INJECTED, TQDM, PANDAS, prov("torch==2.0.0", "environment", "peach.conf/cv.yaml:3"),
         prov("pillow", "environment", "peach.conf/cv.yaml:4")), environment="cv", platform=platform)
    ml = view(lock(["pipe-algorithms-lib", "tqdm", "pandas", "torch", "filelock"], {
        "pipe-algorithms-lib": ("1.1.0", ["numpy"]), "tqdm": ("4.66.0", []), "pandas": ("2.1.0", ["numpy"]),
        "numpy": ("1.26.4", []), "torch": ("2.0.1", ["filelock"]), "filelock": ("3.12.0", [])}),
        (INJECTED, TQDM, PANDAS, prov("torch==2.0.1", "environment", "peach.conf/ml.yaml:3"),
         prov("filelock==3.12.0", "environment", "peach.conf/ml.yaml:4")), environment="ml", platform=platform)
    return [ml, base, cv]


def acme():
    return [view(lock(["numpy"], {"numpy": ("2.1.0", [])}), (prov("numpy", "base", "acme/peach.yaml:3"),),
                 codops="acme", environment="base"),
            view(lock(["numpy"], {"numpy": ("2.1.0", [])}), (prov("numpy", "base", "acme/peach.yaml:3"),),
                 codops="acme", environment="etl")]


def test_drift_versus_intended() -> None:
    result = drift(zzebu() + acme())
    assert [c.codops for c in result.codops] == ["acme", "zzebu"]
    acme_drift, zzebu_drift = result.codops
    assert acme_drift.packages == () and acme_drift.environments == ("base", "etl")
    assert zzebu_drift.environments == ("base", "cv", "ml")
    found = {p.name: (p.status, p.versions, p.reason) for p in zzebu_drift.packages}
    assert found == {
        "filelock": (INTENDED, (("cv", "3.13.0"), ("ml", "3.12.0")),
                     "pinned in ml by `filelock==3.12.0` (environment, peach.conf/ml.yaml:4)"),
        "numpy": (DRIFT, (("base", "1.26.4"), ("cv", "2.0.0"), ("ml", "1.26.4")),
                  "nobody pins it: transitive in base, cv, ml"),
        "pandas": (DRIFT, (("base", "2.2.0"), ("cv", "2.2.0"), ("ml", "2.1.0")),
                   "nobody pins it: bare `pandas` in base, cv, ml"),
        "torch": (INTENDED, (("cv", "2.0.0"), ("ml", "2.0.1")),
                  "pinned in cv by `torch==2.0.0` (environment, peach.conf/cv.yaml:3); "
                  "ml by `torch==2.0.1` (environment, peach.conf/ml.yaml:3)"),
        "tqdm": (DRIFT, (("base", "4.66.0"), ("cv", "4.67.0"), ("ml", "4.66.0")),
                 "every environment asks for `>=4.60` (base), yet the resolutions chose different versions"),
    }
    assert [p.name for p in zzebu_drift.packages] == ["filelock", "numpy", "pandas", "torch", "tqdm"]
    assert (result.drift_count, result.intended_count) == (3, 2)
    assert has_drift(result)


def test_packages_in_one_environment_only_or_at_one_version_are_not_listed() -> None:
    names = {p.name for p in drift(zzebu()).codops[0].packages}
    assert "pillow" not in names and "pipe-algorithms-lib" not in names


def test_only_intended_differences_do_not_fail() -> None:
    def env(name: str, version: str):
        return view(lock(["torch"], {"torch": (version, ["filelock"]), "filelock": ("3.13.0", [])}),
                    (prov(f"torch=={version}", "environment", f"peach.conf/{name}.yaml:3"),), environment=name)

    result = drift([env("cv", "2.0.0"), env("ml", "2.0.1")] + acme())
    assert (result.drift_count, result.intended_count) == (0, 1)
    assert not has_drift(result)


def test_differing_specifiers_from_a_shared_tier_are_intended() -> None:
    # e.g. two environments packaged when the private index's latest release differed
    entries = (DriftEntry("base", "1.1.0", "pipe-algorithms-lib==1.1.0", "==1.1.0", "injected", "latest"),
               DriftEntry("ml", "1.2.0", "pipe-algorithms-lib==1.2.0", "==1.2.0", "injected", "latest"))
    assert classify(entries) == (INTENDED, "the requirements differ: `pipe-algorithms-lib==1.1.0` (injected, "
                                           "latest) in base; `pipe-algorithms-lib==1.2.0` (injected, latest) in ml")


def test_a_pin_in_one_environment_against_transitive_elsewhere_is_intended() -> None:
    entries = (DriftEntry("base", "1.0"), DriftEntry("ml", "2.0", "x==2.0", "==2.0", "environment", "ml.yaml:3"))
    assert classify(entries)[0] == INTENDED


def test_platforms_are_compared_separately() -> None:
    result = drift(zzebu() + zzebu(WINDOWS))
    assert [(c.codops, c.platform) for c in result.codops] == [("zzebu", "windows"), ("zzebu", "x86_64-manylinux_2_28")]
    assert result.drift_count == 6


def test_two_views_of_one_environment_are_refused() -> None:
    with pytest.raises(ValueError, match="two views of zzebu/ml"):
        drift(zzebu() + zzebu()[:1])


def test_drift_does_not_depend_on_the_order_of_environments() -> None:
    views = zzebu() + acme()
    assert drift(views) == drift(list(reversed(views)))


def test_a_pin_elsewhere_does_not_excuse_unpinned_environments_that_disagree() -> None:
    entries = (DriftEntry("base", "1.0"), DriftEntry("cv", "1.5"),
               DriftEntry("ml", "2.0", "x==2.0", "==2.0", "environment", "ml.yaml:3"))
    assert classify(entries) == (DRIFT, "nobody pins it: transitive in base, cv; pinned in ml by `x==2.0` "
                                        "(environment, ml.yaml:3), which explains only its own version")
    # the unpinned ones agree: the difference is the pin's
    agreeing = (DriftEntry("base", "1.0"), DriftEntry("cv", "1.0"), entries[2])
    assert classify(agreeing)[0] == INTENDED


def test_the_same_pin_in_two_environments_is_intended() -> None:
    entries = (DriftEntry("cv", "1.0", "x>=1", ">=1", "environment", "cv.yaml:3"),
               DriftEntry("ml", "1.5", "x>=1", ">=1", "environment", "ml.yaml:3"))
    assert classify(entries)[0] == INTENDED


def test_a_shared_specifier_in_some_environments_only() -> None:
    entries = (DriftEntry("base", "1.0", "x>=1", ">=1", "base", "peach.yaml:3"),
               DriftEntry("cv", "1.5", "x>=1", ">=1", "base", "peach.yaml:3"),
               DriftEntry("ml", "2.0", "x==2.0", "==2.0", "environment", "ml.yaml:3"))
    assert classify(entries)[1].startswith("base, cv ask for `>=1` (base), yet the resolutions chose different")
