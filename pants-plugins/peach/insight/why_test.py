from __future__ import annotations

import peach.insight.why as why_module
from peach.insight.show_test import WINDOWS, decl, lock, prov, view
from peach.insight.view import Analysis
from peach.insight.why import dependency_paths, resolution_reasons, why


def test_transitive_package_every_path_shortest_first() -> None:
    result = why(view(), "filelock")
    assert (result.present, result.direct, result.version, result.name) == (True, False, "3.13.0", "filelock")
    assert result.declarations == () and result.winner is None
    assert result.reasons == ("no config declares it; it comes in through ray, torch, transformers",)
    assert result.paths == (
        ("ray", "filelock"),
        ("torch", "filelock"),
        ("transformers", "filelock"),
        ("torch", "triton", "filelock"),  # the cycle torch <-> triton ends here
        ("transformers", "huggingface-hub", "filelock"),
    )
    assert (result.paths_total, result.paths_complete, result.more_paths) == (5, True, 0)


def test_last_specified_entry_wins() -> None:
    result = why(view(), "TQDM")
    assert result.name == "tqdm" and result.query == "TQDM"
    assert result.direct and result.requirement == "tqdm>=4.60"
    assert result.declarations == (decl("tqdm==4.68.3", "base", "peach.yaml:5"),
                                   decl("tqdm>=4.60", "environment", "peach.conf/ml.yaml:4"))
    assert result.winner == decl("tqdm>=4.60", "environment", "peach.conf/ml.yaml:4")
    assert result.reasons == (
        "the last specified entry wins: `environment` (peach.conf/ml.yaml:4) comes after `base` (peach.yaml:5)",
        "result: `tqdm>=4.60`",
        "it is also a dependency of implicit, transformers",
    )
    assert result.paths == (("tqdm",), ("implicit", "tqdm"), ("transformers", "tqdm"),
                            ("transformers", "huggingface-hub", "tqdm"))


def test_bare_entries_dropped_and_extras_merged() -> None:
    result = why(view(), "uvicorn")
    assert result.reasons == (
        "bare entries are dropped when a version is specified: `uvicorn[standard]` (base, peach.yaml:6)",
        "the specified entry wins: `uvicorn[standard]==0.30.0` (environment, peach.conf/ml.yaml:5)",
        "extras are merged from every entry: [standard] from `uvicorn[standard]` (base, peach.yaml:6)",
        "result: `uvicorn[standard]==0.30.0`",
    )
    # the same declaration, both dropped and a source of extras, is listed once
    assert result.declarations == (decl("uvicorn[standard]", "base", "peach.yaml:6"),
                                   decl("uvicorn[standard]==0.30.0", "environment", "peach.conf/ml.yaml:5"))


def test_extras_merged_into_a_later_pin() -> None:
    provenance = prov("uvicorn[standard]==0.30.0", "environment", "ml.yaml:3",
                      replaced=[decl("uvicorn[standard]==0.29.0", "base", "peach.yaml:3")],
                      extras_from=[decl("uvicorn[standard]==0.29.0", "base", "peach.yaml:3")])
    assert resolution_reasons(provenance) == (
        "the last specified entry wins: `environment` (ml.yaml:3) comes after `base` (peach.yaml:3)",
        "extras are merged from every entry: [standard] from `uvicorn[standard]==0.29.0` (base, peach.yaml:3)",
        "result: `uvicorn[standard]==0.30.0`",
    )


def test_several_replaced_entries_in_candidate_order() -> None:
    provenance = prov("implicit==0.8", "environment", "ml.yaml:3",
                      replaced=[decl("implicit==0.7.2", "injected", "[peach].injected_requirements"),
                                decl("implicit==0.7.5", "base", "peach.yaml:3")])
    assert resolution_reasons(provenance)[0] == (
        "the last specified entry wins: `environment` (ml.yaml:3) comes after `injected` "
        "([peach].injected_requirements) and `base` (peach.yaml:3)")


def test_all_bare_last_wins() -> None:
    provenance = prov("pipe-algorithms-lib", "base", "peach.yaml:3",
                      replaced=[decl("pipe-algorithms-lib", "injected", "[peach].injected_requirements")])
    assert resolution_reasons(provenance)[0] == (
        "no entry specifies a version, so the last entry wins: `base` (peach.yaml:3) comes after `injected` "
        "([peach].injected_requirements)")


def test_declared_once() -> None:
    result = why(view(), "torch")
    assert result.reasons == ("declared once: `torch==2.0.0` (environment, peach.conf/ml.yaml:7)",)
    # triton is not direct, so torch's only path from a direct requirement is itself
    assert result.paths == (("torch",),)


def test_cycle_of_two_direct_requirements() -> None:
    text = lock(["torch", "triton"], {"torch": ("2.0.0", ["triton", "filelock"]),
                                      "triton": ("2.0.0", ["torch", "filelock"]), "filelock": ("3.0", [])})
    provenance = (prov("torch==2.0.0", "environment", "ml.yaml:3"), prov("triton==2.0.0", "environment", "ml.yaml:4"))
    result = why(view(text, provenance), "filelock")
    assert result.paths == (("torch", "filelock"), ("triton", "filelock"),
                            ("torch", "triton", "filelock"), ("triton", "torch", "filelock"))
    assert why(view(text, provenance), "torch").paths == (("torch",), ("triton", "torch"))


def test_markers_a_windows_only_dependency_is_not_there_on_linux() -> None:
    linux = why(view(), "colorama")
    assert (linux.present, linux.locked_versions, linux.paths) == (False, ("0.4.6",), ())
    assert linux.headline() == (
        "colorama is locked in zzebu/ml (0.4.6) but not installed on x86_64-manylinux_2_28, Python 3.11")
    assert linux.reasons == (
        "no dependency on it applies to this platform: click needs it when `platform_system == 'Windows'`; "
        "tqdm needs it when `platform_system == 'Windows'`; uvicorn[standard] needs it when `sys_platform == 'win32'`",)
    windows = why(view(platform=WINDOWS), "colorama")
    assert windows.present and windows.paths[:2] == (("tqdm", "colorama"), ("uvicorn", "colorama"))


def test_a_package_not_in_the_environment_suggests_a_near_name() -> None:
    result = why(view(), "pytorch")
    assert (result.present, result.locked_versions, result.did_you_mean) == (False, (), "torch")
    assert result.headline() == "pytorch is not in zzebu/ml; did you mean torch?"
    assert why(view(), "hugging_face_hub").did_you_mean == "huggingface-hub"
    nothing = why(view(), "django")
    assert nothing.did_you_mean is None and nothing.headline() == "django is not in zzebu/ml"


def test_a_direct_requirement_excluded_by_its_marker() -> None:
    text = lock(["b ; sys_platform == 'win32'"], {"b": ("2", [])})
    provenance = (prov("b==2; sys_platform == 'win32'", "base", "peach.yaml:4"),)
    result = why(view(text, provenance), "b")
    assert not result.present and not result.direct
    assert result.reasons[1] == ("its marker `sys_platform == \"win32\"` does not hold on x86_64-manylinux_2_28, "
                                 "Python 3.11, so it is not a direct requirement there")
    assert result.reasons[2] == "no dependency on it applies to this platform: the project needs it when " \
                                "`sys_platform == 'win32'`"


def diamonds(layers: int) -> str:
    """a -> (x0, y0) -> (x1, y1) -> ... -> z: 2**layers paths from a to z."""
    packages = {"a": ("1", ["x0", "y0"])}
    for i in range(layers):
        following = [f"x{i + 1}", f"y{i + 1}"] if i + 1 < layers else ["z"]
        packages[f"x{i}"] = ("1", following)
        packages[f"y{i}"] = ("1", following)
    packages["z"] = ("1", [])
    return lock(["a"], packages)


def test_paths_are_capped_with_a_count_of_the_rest() -> None:
    result = why(view(diamonds(8), (prov("a==1", "base", "peach.yaml:3"),)), "z")
    assert len(result.paths) == 50 and result.paths_total == 256 and result.paths_complete
    assert result.more_paths == 206
    assert result.paths[0] == ("a", "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "z")
    assert result.paths == tuple(sorted(result.paths))


def test_counting_stops_on_a_huge_graph(monkeypatch) -> None:
    monkeypatch.setattr(why_module, "MAX_COUNTED_PATHS", 100)
    analysis = Analysis(view(diamonds(9), (prov("a==1", "base", "peach.yaml:3"),)))
    paths, total, complete = dependency_paths(analysis, "z", limit=10)
    assert len(paths) == 10 and total == 512 and not complete  # the last level is counted whole
