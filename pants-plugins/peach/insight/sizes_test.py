from __future__ import annotations

import pytest

from peach.insight.show import show
from peach.insight.show_test import lock, prov, view
from peach.insight.sizes import (
    UNKNOWN,
    Budget,
    BudgetOptionError,
    budget_for,
    budget_problem,
    environment_size,
    exclusive,
    format_change,
    format_size,
    over_budget_message,
    parse_budgets,
    parse_size,
    removal_saves,
    size_changes,
)
from peach.insight.view import Analysis
from peach.insight.why import why
from peach.uv.platforms import parse_platform

X86 = parse_platform("x86_64-manylinux_2_28")
ARM = parse_platform("aarch64-manylinux_2_28")
OLD_LINUX = parse_platform("linux")  # uv: manylinux_2_17
WINDOWS = parse_platform("windows")
LINUX_X86 = "sys_platform == 'linux' and platform_machine == 'x86_64'"

# zzebu/ml in small: torch's CUDA package and triton only on x86_64 Linux; torch <-> triton a cycle;
# filelock sdist-only; tokenizers with a manylinux_2_17 and a manylinux_2_28 wheel; the private
# package from a directory index (no size recorded).
ML = lock(["torch", "transformers", "tqdm", "pipe-algorithms-lib"], {
    "torch": ("2.0.0", [f"nvidia-cudnn-cu11 ; {LINUX_X86}", f"triton ; {LINUX_X86}", "filelock"]),
    "nvidia-cudnn-cu11": ("8.5.0.96", []),
    "triton": ("2.0.0", ["torch", "filelock"]),
    "filelock": ("3.13.0", []),
    "transformers": ("4.40.0", ["filelock", "tqdm", "tokenizers"]),
    "tokenizers": ("0.19.1", []),
    "tqdm": ("4.66.0", []),
    "pipe-algorithms-lib": ("1.1.0", []),
}, files={
    "torch": [("torch-2.0.0-cp310-cp310-manylinux1_x86_64.whl", 590), ("torch-2.0.0-cp311-cp311-manylinux1_x86_64.whl", 600),
              ("torch-2.0.0-cp311-cp311-manylinux2014_aarch64.whl", 100), ("torch-2.0.0-cp311-none-macosx_11_0_arm64.whl", 90)],
    "nvidia-cudnn-cu11": [("nvidia_cudnn_cu11-8.5.0.96-2-py3-none-manylinux1_x86_64.whl", 700),
                          ("nvidia_cudnn_cu11-8.5.0.96-py3-none-win_amd64.whl", 650)],
    "triton": [("triton-2.0.0-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", 80)],
    "filelock": [("filelock-3.13.0.tar.gz", 5)],
    "transformers": [("transformers-4.40.0-py3-none-any.whl", 10), ("transformers-4.40.0.tar.gz", 20)],
    "tokenizers": [("tokenizers-0.19.1-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", 3),
                   ("tokenizers-0.19.1-cp39-abi3-manylinux_2_28_x86_64.whl", 4)],
    "tqdm": [("tqdm-4.66.0-py3-none-any.whl", 7)],
    "pipe-algorithms-lib": [("pipe_algorithms_lib-1.1.0-py3-none-any.whl", None)],
})
ML_PROVENANCE = (
    prov("torch==2.0", "environment", "example/zzebu/peach.conf/environments.yaml:10"),
    prov("transformers", "environment", "example/zzebu/peach.conf/environments.yaml:11"),
    prov("tqdm", "base", "example/zzebu/peach.conf/environments.yaml:6"),
    prov("pipe-algorithms-lib==1.1.0", "injected", "latest release on the private index"),
)


def sizes(platform=X86):
    (result,) = environment_size(ML, [platform], "3.11").platforms
    return {p.name: (p.size, p.kind, p.file) for p in result.packages}, result


def test_the_wheel_uv_picks_for_each_platform() -> None:
    by_name, result = sizes(X86)
    assert by_name["torch"] == (600, "wheel", "torch-2.0.0-cp311-cp311-manylinux1_x86_64.whl")
    assert by_name["nvidia-cudnn-cu11"][:2] == (700, "wheel")
    assert by_name["tokenizers"] == (4, "wheel", "tokenizers-0.19.1-cp39-abi3-manylinux_2_28_x86_64.whl")
    assert by_name["filelock"] == (5, "sdist", "filelock-3.13.0.tar.gz")  # no wheel: uv builds the sdist
    assert by_name["transformers"][:2] == (10, "wheel")  # a wheel beats the sdist
    assert by_name["pipe-algorithms-lib"] == (UNKNOWN, "unknown", "pipe_algorithms_lib-1.1.0-py3-none-any.whl")
    assert result.total == 600 + 700 + 80 + 5 + 10 + 4 + 7
    assert result.unknown == ("pipe-algorithms-lib",)


def test_platforms_differ_in_wheels_and_in_what_they_install() -> None:
    arm, arm_result = sizes(ARM)
    assert arm["torch"][:2] == (100, "wheel")
    assert "nvidia-cudnn-cu11" not in arm and "triton" not in arm  # their markers exclude aarch64
    assert arm["tokenizers"] == (UNKNOWN, "unknown", "")  # no aarch64 wheel, no sdist recorded
    assert arm_result.unknown == ("pipe-algorithms-lib", "tokenizers")
    old, _ = sizes(OLD_LINUX)
    assert old["tokenizers"][0] == 3  # glibc 2.17 cannot take the manylinux_2_28 wheel
    windows, _ = sizes(WINDOWS)
    assert windows["torch"] == (UNKNOWN, "unknown", "")
    both = environment_size(ML, [X86, ARM], "3.11")
    assert [p.platform for p in both.platforms] == ["x86_64-manylinux_2_28", "aarch64-manylinux_2_28"]


def test_exclusive_dependencies_and_what_removing_a_declaration_saves() -> None:
    analysis = Analysis(view(ML, ML_PROVENANCE))
    roots, installed = analysis.direct_names, analysis.installed
    # filelock stays (transformers needs it); the cycle torch <-> triton does not keep triton.
    assert exclusive(installed, roots, "torch") == {"torch", "nvidia-cudnn-cu11", "triton"}
    assert removal_saves(installed, roots, "torch") == {"torch", "nvidia-cudnn-cu11", "triton"}
    assert exclusive(installed, roots, "transformers") == {"transformers", "tokenizers"}
    # tqdm is declared, but transformers pulls it in too: removing the declaration saves nothing.
    assert exclusive(installed, roots, "tqdm") == {"tqdm"}
    assert removal_saves(installed, roots, "tqdm") == frozenset()
    assert exclusive(installed, roots, "triton") == {"triton"}
    assert exclusive(installed, roots, "absent") == frozenset()


def test_show_carries_sizes_and_sorts_by_size() -> None:
    result = show(view(ML, ML_PROVENANCE))
    assert result.size == 1406 and result.unknown_size == ("pipe-algorithms-lib",)
    by_size = result.sorted_by("size")
    assert [r.name for r in by_size.rows][:3] == ["nvidia-cudnn-cu11", "torch", "triton"]
    assert by_size.rows[-1].name == "pipe-algorithms-lib"  # unknown sizes last
    assert result.sorted_by("name") == result
    row = next(r for r in result.rows if r.name == "torch")
    assert row.as_json()["size"] == 600 and row.as_json()["size_file"].startswith("torch-2.0.0-cp311")


def test_why_shows_the_share_of_a_package_and_its_exclusive_dependencies() -> None:
    torch = why(view(ML, ML_PROVENANCE), "torch")
    assert (torch.size, torch.exclusive_size, torch.environment_size) == (600, 1380, 1406)
    assert torch.exclusive == ("nvidia-cudnn-cu11", "torch", "triton")
    assert (torch.removal_saves, torch.also_pulled_in_by) == (1380, ())
    tqdm = why(view(ML, ML_PROVENANCE), "tqdm")
    assert (tqdm.exclusive_size, tqdm.removal_saves, tqdm.also_pulled_in_by) == (7, 0, ("transformers",))
    nvidia = why(view(ML, ML_PROVENANCE), "nvidia-cudnn-cu11")
    assert (nvidia.size, nvidia.exclusive, nvidia.as_json()["removal_saves"]) == (700, ("nvidia-cudnn-cu11",), None)


def test_formats() -> None:
    assert [format_size(n) for n in (0, 1023, 1024, 1536 * 1024, 5 * (1 << 30), UNKNOWN)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 MiB", "5.0 GiB", "?"]
    assert (format_change(2048), format_change(-2048), format_change(0)) == ("+2.0 KiB", "-2.0 KiB", "+0 B")


def test_size_changes_per_platform() -> None:
    after = environment_size(ML, [X86], "3.11")
    smaller = environment_size(ML.replace("size = 600", "size = 500"), [X86], "3.11")
    (change,) = size_changes(smaller, after)
    assert (change.platform, change.before, change.after, change.change) == ("x86_64-manylinux_2_28", 1306, 1406, 100)
    (first,) = size_changes(None, after)
    assert (first.before, first.change) == (0, 1406)


# --- budgets ---------------------------------------------------------------------------------


def test_parse_size() -> None:
    assert parse_size(1000) == 1000
    assert parse_size("3GiB") == 3 << 30
    assert parse_size("1.5 GiB") == 3 << 29
    assert parse_size("500 MB") == 500_000_000
    assert parse_size("2kb") == 2000
    assert parse_size("42") == 42
    for bad in ("3 GB of disk", "-1", -1, "big", True, None, 1.5, "1e9"):
        assert parse_size(bad) is None, bad


def test_parse_budgets_reports_every_bad_entry_with_the_fix() -> None:
    assert parse_budgets({"zzebu/ml": "3GiB", "*": 10}) == (Budget("*", 10, "10"), Budget("zzebu/ml", 3 << 30, "3GiB"))
    with pytest.raises(BudgetOptionError) as error:
        parse_budgets({"ml": "1GiB", "zzebu/*": "lots", "debr/base": "1GB"})
    message = str(error.value)
    assert message.startswith("[peach].size_budgets is not valid:")
    assert "`ml` is not a `codops/environment` pattern: write `*/ml`" in message
    assert "`zzebu/*` = `'lots'` is not a size" in message and "GiB" in message
    assert "debr/base" not in message
    assert "--peach-size-budgets=" in message


def test_the_most_specific_pattern_wins() -> None:
    budgets = parse_budgets({"*": "1GiB", "zzebu/*": "2GiB", "zzebu/ml": "8GiB", "*/ml": "4GiB"})
    assert budget_for(budgets, "zzebu/ml").pattern == "zzebu/ml"
    assert budget_for(budgets, "debr/ml").pattern == "*/ml"
    assert budget_for(budgets, "zzebu/base").pattern == "zzebu/*"
    assert budget_for(budgets, "debr/base").pattern == "*"
    assert budget_for(parse_budgets({"zzebu/*": "1GiB"}), "debr/base") is None
    # A tie in specificity: the smaller budget.
    assert budget_for(parse_budgets({"zz*/ml": "2GiB", "zzebu/*": "1GiB"}), "zzebu/ml").limit == 1 << 30


def test_over_budget_names_the_environment_the_budget_and_the_largest_contributors() -> None:
    analysis = Analysis(view(ML, ML_PROVENANCE))
    (size,) = environment_size(ML, [X86], "3.11").platforms
    provenance = {p.package: f"{p.requirement} ({p.tier}, {p.source})" for p in ML_PROVENANCE}
    budget = parse_budgets({"zzebu/*": "1kB"})[0]
    message = over_budget_message("zzebu/ml", size, budget, analysis.installed, analysis.direct_names, provenance,
                                  {n: analysis.pulled_in_by(n) for n in analysis.installed})
    lines = message.splitlines()
    assert lines[0] == ("environment `zzebu/ml` is over its size budget on x86_64-manylinux_2_28: 1.4 KiB (1,406 bytes) "
                        "against 1000 B (`[peach].size_budgets`: `zzebu/*` = `1kB`). Sizes are the download sizes of "
                        "the files its uv.lock records for that platform.")
    torch_line = "torch==2.0 (environment, example/zzebu/peach.conf/environments.yaml:10)"
    declarations = lines[lines.index("What removing each declaration would save (it and what only it pulls in):") + 1:]
    assert declarations[0].split() == ["1.3", "KiB", "98.2%", "3", "packages", *torch_line.split()]
    largest = lines[lines.index("The largest packages, and the config lines that bring them in:") + 1:]
    assert largest[0].split() == ["700", "B", "nvidia-cudnn-cu11", "8.5.0.96", "<-", *torch_line.split()]
    assert largest[1].split()[2] == "torch"
    filelock = next(line for line in largest if " filelock " in line)
    assert filelock.endswith(f"<- {torch_line}; transformers (environment, example/zzebu/peach.conf/environments.yaml:11)")
    assert "no size for 1 package(s), counted as 0: pipe-algorithms-lib" in message
    assert lines[-1].startswith("Fix: remove or slim the declarations above")
    assert "size_budgets = {\"zzebu/ml\" = \"1MiB\"}" in lines[-1]


def test_budget_problem_checks_every_platform_against_the_environment_s_budget() -> None:
    requirements = tuple(p.requirement for p in ML_PROVENANCE)
    both = environment_size(ML, [ARM, X86], "3.11")

    def problem(budgets):
        return budget_problem("zzebu", "ml", requirements, ML_PROVENANCE, ML, both, parse_budgets(budgets), [ARM, X86],
                              "3.11")

    assert problem({}) is None
    assert problem({"debr/*": "1B"}) is None
    assert problem({"zzebu/ml": "2kB"}) is None
    # aarch64 (122 bytes) is within 200 bytes; x86_64 (1,406 bytes, the CUDA package) is not.
    message = problem({"zzebu/*": "200"})
    assert message.startswith("environment `zzebu/ml` is over its size budget on x86_64-manylinux_2_28: ")
    assert "nvidia-cudnn-cu11 8.5.0.96  <- torch==2.0 (environment, example/zzebu/peach.conf/environments.yaml:10)" in message
    assert problem({"zzebu/*": "100"}).startswith("environment `zzebu/ml` is over its size budget on aarch64-manylinux_2_28")
