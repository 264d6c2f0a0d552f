from __future__ import annotations

import pytest

from peach.uv.lockfile import DependencyMetadata, parse_lock
from peach.uv.lockfile_test import ROOTED
from peach.uv.platforms import (
    Override,
    check,
    lock_constraints,
    metadata_fixes,
    offline_is_online,
    parse_compile,
    parse_platform,
    pinned_overrides,
)

LINUX = parse_platform("x86_64-manylinux_2_28")
ARM = parse_platform("aarch64-manylinux_2_28")

# What `uv pip compile --python-platform x86_64-manylinux_2_28 --annotation-style line` printed
# for the project of ROOTED, with torch's x86_64 wheel requiring an nvidia package.
COMPILED = """\
fastapi==0.1.0            # via ray
filelock==3.0.0           # via ray, torch, triton
nvidia-cublas-cu11==11.10.3.66  # via torch
ray==2.60.0               # via peach-zzebu-ml (pyproject.toml)
torch==2.0.0              # via triton, peach-zzebu-ml (pyproject.toml)
triton==2.0.0             # via torch
uvloop==0.2.0             # via ray
"""


@pytest.mark.parametrize("name, system, machine", [
    ("x86_64-manylinux_2_28", "linux", "x86_64"),
    ("aarch64-manylinux_2_17", "linux", "aarch64"),
    ("linux", "linux", "x86_64"),
    ("x86_64-unknown-linux-gnu", "linux", "x86_64"),
    ("macos", "darwin", "arm64"),
    ("x86_64-apple-darwin", "darwin", "x86_64"),
    ("windows", "win32", "AMD64"),
])
def test_platforms(name: str, system: str, machine: str) -> None:
    platform = parse_platform(name)
    assert platform is not None and (platform.sys_platform, platform.platform_machine) == (system, machine)
    assert platform.marker == f"sys_platform == '{system}' and platform_machine == '{machine}'"


def test_unknown_platform() -> None:
    assert parse_platform("sys_platform == 'linux'") is None
    assert parse_platform("riscv64-manylinux_2_28") is None


def test_parse_compile_turns_via_into_children() -> None:
    found = parse_compile(COMPILED)
    assert found["torch"].version == "2.0.0"
    assert found["torch"].children == ("filelock", "nvidia-cublas-cu11", "triton")
    assert found["triton"].children == ("filelock", "torch")
    assert found["nvidia-cublas-cu11"].children == ()


def test_parse_compile_reads_packages_pinned_to_a_file() -> None:
    found = parse_compile(
        "numpy-lite==2.0.0         # via pipe-algorithms-lib\n"
        "pipe-algorithms-lib @ file:///x/private/pipe_algorithms_lib-1.1.0-py3-none-any.whl  # via pipe-consumer, "
        "--override ov.txt, --override (workspace)\n"
        "pipe-consumer==1.0.0      # via peach-acme-consumer (pyproject.toml)\n")
    assert found["pipe-algorithms-lib"].version == "1.1.0"
    assert found["pipe-algorithms-lib"].children == ("numpy-lite",)
    assert found["pipe-consumer"].children == ("pipe-algorithms-lib",)


def test_a_lock_that_matches_needs_no_fix() -> None:
    lock = parse_lock(ROOTED)
    resolved = parse_compile(COMPILED.replace("nvidia-cublas-cu11==11.10.3.66  # via torch\n", ""))
    assert check(lock, {LINUX: resolved}, "3.11") == {}
    assert metadata_fixes(lock, {LINUX: resolved}, "3.11") == ()


def test_missing_packages_are_fixed_through_the_package_that_pulls_them_in() -> None:
    lock = parse_lock(ROOTED)
    resolved = parse_compile(COMPILED)
    assert check(lock, {LINUX: resolved}, "3.11") == {LINUX.name: ["missing nvidia-cublas-cu11==11.10.3.66"]}
    (fix,) = metadata_fixes(lock, {LINUX: resolved}, "3.11")
    assert (fix.name, fix.version) == ("torch", "2.0.0")
    marker = "sys_platform == 'linux' and platform_machine == 'x86_64'"
    assert fix.requires_dist == (f"filelock==3.0.0 ; {marker}", f"nvidia-cublas-cu11==11.10.3.66 ; {marker}",
                                 f"triton==2.0.0 ; {marker}")


def test_each_platform_gets_its_own_requirements() -> None:
    lock = parse_lock(ROOTED)
    arm = parse_compile("filelock==3.0.0  # via ray, torch\nray==2.60.0  # via p (pyproject.toml)\n"
                        "torch==2.0.0  # via p (pyproject.toml)\nfastapi==0.1.0  # via ray\nuvloop==0.2.0  # via ray\n")
    (fix,) = metadata_fixes(lock, {LINUX: parse_compile(COMPILED), ARM: arm}, "3.11")
    assert f"filelock==3.0.0 ; {ARM.marker}" in fix.requires_dist
    assert not any("nvidia" in r and ARM.marker in r for r in fix.requires_dist)


def test_transitive_private_packages_are_pinned_to_the_locked_file() -> None:
    lock = parse_lock(ROOTED + """
[[package]]
name = "pipe-algorithms-lib"
version = "1.1.0"
source = { registry = "http://127.0.0.1:8081/simple" }
wheels = [
    { url = "http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-cp311-cp311-manylinux_2_17_aarch64.whl" },
    { url = "http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-cp311-cp311-manylinux_2_17_x86_64.whl" },
]

[[package]]
name = "pipe-core"
version = "2.0.0"
source = { registry = "../../../../idx" }
wheels = [{ path = "pipe_core-2.0.0-py3-none-any.whl" }]
""")
    assert [str(o) for o in pinned_overrides(lock, ["pipe-algorithms-lib", "pipe-core", "pipe-absent"], LINUX, "idx")] == [
        "pipe-algorithms-lib @ http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "pipe-core @ file:///$PEACH_BUILD_ROOT/idx/pipe_core-2.0.0-py3-none-any.whl",
    ]
    assert pinned_overrides(lock, ["pipe-algorithms-lib"], ARM, "")[0].url.endswith("manylinux_2_17_aarch64.whl")


FORKED = """\
version = 1
revision = 3

[[manifest.dependency-metadata]]
name = "torch"
version = "2.0.0"
requires-dist = ["triton==2.0.0 ; platform_machine == 'x86_64' and sys_platform == 'linux'"]

[[package]]
name = "peach-zzebu-ml"
version = "0.0.0"
source = { virtual = "." }

[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://public.example.invalid/simple" }

[[package]]
name = "numpy"
version = "2.1.0"
source = { registry = "https://public.example.invalid/simple" }

[[package]]
name = "pipe-core"
version = "1.0.0"
source = { registry = "http://127.0.0.1:8081/simple" }

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "https://public.example.invalid/simple" }

[[package]]
name = "tool"
version = "0.1.0"
source = { git = "https://git.example.invalid/tool?rev=abc" }
"""


def test_lock_constraints_pin_what_the_lock_takes_from_an_index_once() -> None:
    # Not the project, not a package from git, not a package forked into two versions, not an override.
    assert lock_constraints(parse_lock(FORKED), exclude=["Pipe_Core"]) == ("six==1.16.0",)
    assert lock_constraints(parse_lock(FORKED)) == ("pipe-core==1.0.0", "six==1.16.0")


def test_declared_metadata_is_read_from_the_lock_manifest() -> None:
    assert parse_lock(FORKED).declared_metadata == (DependencyMetadata(
        "torch", "2.0.0", ("triton==2.0.0 ; platform_machine == 'x86_64' and sys_platform == 'linux'",)),)
    assert parse_lock(ROOTED).declared_metadata == ()


def test_offline_answer_stands_only_when_every_package_is_pinned() -> None:
    found = parse_compile(COMPILED)
    pins = [f"{name}=={installed.version}" for name, installed in found.items()]
    assert offline_is_online(found, pins, ())
    # torch's nvidia package, pinned by nothing, took whatever version the uv cache held.
    unpinned = [p for p in pins if not p.startswith("nvidia-cublas-cu11==")]
    assert not offline_is_online(found, unpinned, ())
    # A package pinned to a file by an override is pinned too (names compared canonically).
    assert offline_is_online(found, unpinned, (Override("Nvidia_Cublas_Cu11", "file:///$PEACH_BUILD_ROOT/w.whl"),))


def test_best_wheel_ranks_tags_as_uv_does() -> None:
    from peach.uv.platforms import best_wheel, supported_tags

    numpy = ["numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "numpy-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl",
             "numpy-2.0.0-cp311-cp311-manylinux_2_28_aarch64.whl",
             "numpy-2.0.0-cp311-cp311-musllinux_1_2_x86_64.whl",
             "numpy-2.0.0-cp311-cp311-win_amd64.whl",
             "numpy-2.0.0-cp311-cp311-macosx_14_0_arm64.whl",
             "numpy-2.0.0-cp311-cp311-macosx_11_0_arm64.whl"]
    pick = {name: best_wheel(numpy, supported_tags(parse_platform(name), "3.11"))
            for name in ("x86_64-manylinux_2_28", "aarch64-manylinux_2_28", "linux", "x86_64-unknown-linux-musl",
                         "windows", "macos")}
    assert pick == {"x86_64-manylinux_2_28": 2, "aarch64-manylinux_2_28": 3, "linux": 1,
                    "x86_64-unknown-linux-musl": 4, "windows": 5, "macos": 7}  # macOS 13 cannot take a 14.0 wheel
    # The interpreter's own ABI before abi3 before pure Python; nothing fits: None.
    linux = supported_tags(parse_platform("x86_64-manylinux_2_28"), "3.11")
    assert best_wheel(["a-1-py3-none-any.whl", "a-1-cp39-abi3-manylinux2014_x86_64.whl",
                       "a-1-cp311-cp311-manylinux1_x86_64.whl"], linux) == 2
    assert best_wheel(["a-1-py3-none-any.whl", "a-1-cp39-abi3-manylinux2014_x86_64.whl"], linux) == 1
    assert best_wheel(["a-1-cp310-cp310-manylinux1_x86_64.whl", "not-a-wheel.tar.gz"], linux) is None


FITS = [
    # glibc: a manylinux wheel fits a glibc at least as new as its tag's; never a musl wheel.
    ("x86_64-manylinux_2_28", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
    ("x86_64-manylinux_2_28", "cp311-cp311-manylinux_2_28_x86_64", True),
    ("x86_64-manylinux_2_28", "cp311-cp311-manylinux_2_34_x86_64", False),
    ("x86_64-manylinux_2_28", "cp311-cp311-manylinux1_x86_64", True),
    ("x86_64-manylinux_2_28", "cp311-cp311-linux_x86_64", True),
    ("x86_64-manylinux_2_28", "cp311-cp311-musllinux_1_2_x86_64", False),
    ("x86_64-manylinux_2_28", "cp311-cp311-manylinux_2_17_aarch64", False),
    ("x86_64-manylinux_2_28", "py3-none-any", True),
    ("linux", "cp311-cp311-manylinux_2_17_x86_64", True),  # uv's default glibc for a bare name: 2.17
    ("linux", "cp311-cp311-manylinux_2_28_x86_64", False),
    # musl: musllinux wheels up to the platform's musl; never a manylinux one.
    ("x86_64-unknown-linux-musl", "cp311-cp311-musllinux_1_2_x86_64", True),
    ("x86_64-unknown-linux-musl", "cp311-cp311-musllinux_1_1_x86_64", True),
    ("x86_64-unknown-linux-musl", "cp311-cp311-musllinux_1_3_x86_64", False),
    ("x86_64-unknown-linux-musl", "cp311-cp311-manylinux_2_17_x86_64", False),
    # macOS (uv's default for a bare name: 13.0): a wheel for 14 does not fit, one for 11 does.
    ("aarch64-apple-darwin", "cp311-cp311-macosx_14_0_arm64", False),
    ("aarch64-apple-darwin", "cp311-cp311-macosx_13_0_arm64", True),
    ("aarch64-apple-darwin", "cp311-cp311-macosx_11_0_arm64", True),
    ("aarch64-apple-darwin", "cp311-cp311-macosx_10_9_universal2", True),
    ("aarch64-apple-darwin", "cp311-cp311-macosx_12_0_x86_64", False),
    ("x86_64-apple-darwin", "cp311-cp311-macosx_10_9_x86_64", True),
    ("x86_64-apple-darwin", "cp311-cp311-macosx_14_0_x86_64", False),
    ("x86_64-apple-darwin", "cp311-cp311-macosx_11_0_arm64", False),
    # Windows
    ("x86_64-pc-windows-msvc", "cp311-cp311-win_amd64", True),
    ("x86_64-pc-windows-msvc", "cp311-cp311-win32", False),
    ("x86_64-pc-windows-msvc", "cp311-cp311-win_arm64", False),
    ("aarch64-pc-windows-msvc", "cp311-cp311-win_arm64", True),
    ("aarch64-pc-windows-msvc", "cp311-cp311-win_amd64", False),
    ("windows", "py3-none-any", True),
]


@pytest.mark.parametrize("platform,tags,fits", FITS)
def test_a_wheel_fits_a_platform_whose_libc_or_os_version_its_tags_allow(platform: str, tags: str, fits: bool) -> None:
    from peach.uv.platforms import wheel_fits

    assert wheel_fits(f"https://idx.example.invalid/pkg/pkg-1.0-{tags}.whl", parse_platform(platform)) is fits


def test_what_is_not_a_wheel_fits_no_platform() -> None:
    from peach.uv.platforms import wheel_fits

    assert not wheel_fits("pkg-1.0.tar.gz", LINUX)
    assert not wheel_fits("pkg-1.0-py3-none-any.zip", LINUX)


def test_a_private_package_is_pinned_to_the_file_its_platform_installs() -> None:
    lock = parse_lock(ROOTED + """
[[package]]
name = "pipe-fast"
version = "1.0.0"
source = { registry = "http://127.0.0.1:8081/simple" }
wheels = [
    { url = "http://127.0.0.1:8081/packages/pipe_fast-1.0.0-cp311-cp311-musllinux_1_2_x86_64.whl" },
    { url = "http://127.0.0.1:8081/packages/pipe_fast-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl" },
    { url = "http://127.0.0.1:8081/packages/pipe_fast-1.0.0-cp311-cp311-manylinux_2_28_x86_64.whl" },
]
""")
    # Neither the musl wheel nor the one for a newer glibc than the platform's 2.28.
    assert pinned_overrides(lock, ["pipe-fast"], LINUX, "") == (
        Override("pipe-fast", "http://127.0.0.1:8081/packages/pipe_fast-1.0.0-cp311-cp311-manylinux_2_28_x86_64.whl"),)
