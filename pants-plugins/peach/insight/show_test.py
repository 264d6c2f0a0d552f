from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence, Tuple

from peach.config.names import canonical_name
from peach.config.requirements import Declaration, Provenance, Tier
from peach.config.typed import Source
from peach.insight.show import show
from peach.insight.view import EnvironmentView
from peach.uv.platforms import parse_platform

LINUX = parse_platform("x86_64-manylinux_2_28")
WINDOWS = parse_platform("windows")
REGISTRY = 'source = { registry = "https://public.example.invalid/simple" }'

# zzebu/ml, written by hand: torch <-> triton is a cycle, triton only on x86_64 Linux, colorama only
# on Windows (through tqdm, click and uvicorn's `standard` extra), uvloop everywhere but Windows.
ML_LOCK = f"""\
version = 1
revision = 3
requires-python = "==3.11.*"

[[package]]
name = "peach-zzebu-ml"
version = "0.0.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "pipe-algorithms-lib" }},
    {{ name = "implicit" }},
    {{ name = "tqdm" }},
    {{ name = "uvicorn", extra = ["standard"] }},
    {{ name = "transformers" }},
    {{ name = "torch" }},
    {{ name = "ray", extra = ["serve"] }},
]

[package.metadata]
requires-dist = [
    {{ name = "pipe-algorithms-lib", specifier = "==1.1.0" }},
    {{ name = "torch", specifier = "==2.0.0" }},
]

[[package]]
name = "pipe-algorithms-lib"
version = "1.1.0"
source = {{ registry = "https://private.example.invalid/simple" }}
dependencies = [{{ name = "numpy" }}]

[[package]]
name = "implicit"
version = "0.7.2"
{REGISTRY}
dependencies = [{{ name = "numpy" }}, {{ name = "scipy" }}, {{ name = "tqdm" }}]

[[package]]
name = "tqdm"
version = "4.66.0"
{REGISTRY}
dependencies = [{{ name = "colorama", marker = "platform_system == 'Windows'" }}]

[[package]]
name = "uvicorn"
version = "0.30.0"
{REGISTRY}
dependencies = [{{ name = "click" }}, {{ name = "h11" }}]

[package.optional-dependencies]
standard = [
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
    {{ name = "httptools" }},
    {{ name = "uvloop", marker = "sys_platform != 'win32'" }},
]

[[package]]
name = "transformers"
version = "4.40.0"
{REGISTRY}
dependencies = [{{ name = "filelock" }}, {{ name = "huggingface-hub" }}, {{ name = "numpy" }}, {{ name = "tqdm" }}]

[[package]]
name = "huggingface-hub"
version = "0.23.0"
{REGISTRY}
dependencies = [{{ name = "filelock" }}, {{ name = "tqdm" }}]

[[package]]
name = "torch"
version = "2.0.0"
{REGISTRY}
dependencies = [
    {{ name = "filelock" }},
    {{ name = "triton", marker = "platform_machine == 'x86_64' and sys_platform == 'linux'" }},
]

[[package]]
name = "triton"
version = "2.0.0"
{REGISTRY}
dependencies = [{{ name = "filelock" }}, {{ name = "torch" }}]

[[package]]
name = "ray"
version = "2.60.0"
{REGISTRY}
dependencies = [{{ name = "filelock" }}]

[package.optional-dependencies]
serve = [{{ name = "fastapi" }}]

[[package]]
name = "click"
version = "8.1.7"
{REGISTRY}
dependencies = [{{ name = "colorama", marker = "platform_system == 'Windows'" }}]

[[package]]
name = "scipy"
version = "1.13.0"
{REGISTRY}
dependencies = [{{ name = "numpy" }}]

[[package]]
name = "colorama"
version = "0.4.6"
{REGISTRY}

[[package]]
name = "fastapi"
version = "0.110.0"
{REGISTRY}

[[package]]
name = "filelock"
version = "3.13.0"
{REGISTRY}

[[package]]
name = "h11"
version = "0.14.0"
{REGISTRY}

[[package]]
name = "httptools"
version = "0.6.1"
{REGISTRY}

[[package]]
name = "numpy"
version = "1.26.4"
{REGISTRY}

[[package]]
name = "uvloop"
version = "0.19.0"
{REGISTRY}
"""


def src(text: str) -> Source:
    """The fixtures write a source as it reads, `path:line` (or an option): as the model makes it."""
    path, _, line = text.rpartition(":")
    return Source(path, int(line)) if line.isdigit() else Source(text)


def decl(requirement: str, tier: str, source: str) -> Declaration:
    return Declaration(requirement, Tier(tier), src(source))


def prov(requirement: str, tier: str, source: str, replaced: Sequence[Declaration] = (),
         dropped_bare: Sequence[Declaration] = (), extras_from: Sequence[Declaration] = ()) -> Provenance:
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)
    return Provenance(requirement, canonical_name(name), Tier(tier), src(source), tuple(replaced),
                      tuple(dropped_bare), tuple(extras_from))


ML_PROVENANCE = (
    prov("pipe-algorithms-lib==1.1.0", "injected", "latest release on the private index"),
    prov("implicit==0.7.2", "injected", "[peach].injected_requirements",
         dropped_bare=[decl("implicit", "base", "peach.yaml:4")]),
    prov("tqdm>=4.60", "environment", "peach.conf/ml.yaml:4", replaced=[decl("tqdm==4.68.3", "base", "peach.yaml:5")]),
    prov("uvicorn[standard]==0.30.0", "environment", "peach.conf/ml.yaml:5",
         dropped_bare=[decl("uvicorn[standard]", "base", "peach.yaml:6")],
         extras_from=[decl("uvicorn[standard]", "base", "peach.yaml:6")]),
    prov("transformers==4.40.0", "environment", "peach.conf/ml.yaml:6"),
    prov("torch==2.0.0", "environment", "peach.conf/ml.yaml:7"),
    prov("ray[serve]==2.60.0", "framework", "3rdparty/peach/framework-stack.txt:1"),
)


def view(lock_text: str = ML_LOCK, provenance: Sequence[Provenance] = ML_PROVENANCE, codops: str = "zzebu",
         environment: str = "ml", platform=LINUX, python_version: str = "3.11",
         requirements: Optional[Sequence[str]] = None) -> EnvironmentView:
    reqs = tuple(p.requirement for p in provenance) if requirements is None else tuple(requirements)
    return EnvironmentView(codops, environment, reqs, tuple(provenance), lock_text, platform, python_version)


# --- building small locks --------------------------------------------------------------------


def _dep(spec: str) -> str:
    """`name[extra] ; marker` as a lock dependency table."""
    head, _, marker = spec.partition(";")
    match = re.match(r"^\s*([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?\s*$", head)
    name, extras = match.group(1), match.group(2)
    parts = [f'name = "{name}"']
    if extras:
        parts.append("extra = [" + ", ".join(f'"{e.strip()}"' for e in extras.split(",")) + "]")
    if marker.strip():
        parts.append(f'marker = "{marker.strip()}"')
    return "{ " + ", ".join(parts) + " }"


def lock(root: Sequence[str], packages: Mapping[str, Tuple[str, Sequence[str]]],
         optional: Mapping[str, Mapping[str, Sequence[str]]] = {}, project: str = "peach-zzebu-env",
         files: Mapping[str, Sequence[Tuple[str, Optional[int]]]] = {}) -> str:
    """A uv.lock: the project depending on `root`; `packages`: name -> (version, dependencies);
    `files`: name -> its (file name, size) records (a `.tar.gz` is the sdist; size None: not recorded)."""
    text = f'version = 1\nrevision = 3\n\n[[package]]\nname = "{project}"\nversion = "0.0.0"\n'
    text += 'source = { virtual = "." }\n'
    text += "dependencies = [" + ", ".join(_dep(d) for d in root) + "]\n"
    for name, (version, deps) in packages.items():
        text += f'\n[[package]]\nname = "{name}"\nversion = "{version}"\n{REGISTRY}\n'
        text += "dependencies = [" + ", ".join(_dep(d) for d in deps) + "]\n"
        wheels = []
        for filename, size in files.get(name, ()):
            record = f'url = "https://files.example.invalid/{filename}"' + (f", size = {size}" if size is not None else "")
            if filename.endswith(".whl"):
                wheels.append("    { " + record + " },\n")
            else:
                text += "sdist = { " + record + " }\n"
        if wheels:
            text += "wheels = [\n" + "".join(wheels) + "]\n"
        if name in optional:
            text += "\n[package.optional-dependencies]\n"
            for extra, extra_deps in optional[name].items():
                text += f"{extra} = [" + ", ".join(_dep(d) for d in extra_deps) + "]\n"
    return text


# --- show --------------------------------------------------------------------------------------


def rows_by_name(result):
    return {row.name: row for row in result.rows}


def test_show_lists_every_installed_package_sorted() -> None:
    result = show(view())
    assert [r.name for r in result.rows] == [
        "click", "fastapi", "filelock", "h11", "httptools", "huggingface-hub", "implicit", "numpy",
        "pipe-algorithms-lib", "ray", "scipy", "torch", "tqdm", "transformers", "triton", "uvicorn", "uvloop"]
    assert result.headline() == "zzebu/ml: 17 packages (7 direct, 10 transitive)"
    assert result.not_installed == (("colorama", "0.4.6"),)


def test_direct_rows_carry_provenance() -> None:
    rows = rows_by_name(show(view()))
    tqdm = rows["tqdm"]
    assert (tqdm.version, tqdm.direct, tqdm.requirement, tqdm.tier, tqdm.source) == (
        "4.66.0", True, "tqdm>=4.60", "environment", "peach.conf/ml.yaml:4")
    assert tqdm.replaced == (decl("tqdm==4.68.3", "base", "peach.yaml:5"),)
    assert tqdm.pulled_in_by == ()
    assert rows["implicit"].dropped_bare == (decl("implicit", "base", "peach.yaml:4"),)
    assert rows["uvicorn"].extras_from == (decl("uvicorn[standard]", "base", "peach.yaml:6"),)
    assert rows["ray"].tier == "framework"


def test_transitive_rows_name_the_direct_requirements_that_pull_them_in() -> None:
    rows = rows_by_name(show(view()))
    assert rows["filelock"].direct is False
    assert rows["filelock"].requirement == "" and rows["filelock"].tier == ""
    assert rows["filelock"].pulled_in_by == ("ray", "torch", "transformers")
    assert rows["numpy"].pulled_in_by == ("implicit", "pipe-algorithms-lib", "transformers")
    assert rows["huggingface-hub"].pulled_in_by == ("transformers",)
    assert rows["fastapi"].pulled_in_by == ("ray",)  # through the `serve` extra
    assert rows["httptools"].pulled_in_by == ("uvicorn",)  # through the `standard` extra


def test_cycle_between_torch_and_triton() -> None:
    rows = rows_by_name(show(view()))
    assert rows["triton"].pulled_in_by == ("torch",)
    assert rows["torch"].direct is True


def test_markers_follow_the_platform() -> None:
    linux = rows_by_name(show(view()))
    windows_result = show(view(platform=WINDOWS))
    windows = rows_by_name(windows_result)
    assert "colorama" not in linux and "triton" not in windows and "uvloop" not in windows
    assert windows["colorama"].pulled_in_by == ("implicit", "tqdm", "transformers", "uvicorn")
    assert "triton" in linux and "uvloop" in linux
    assert windows_result.not_installed == (("triton", "2.0.0"), ("uvloop", "0.19.0"))


def test_a_direct_requirement_whose_marker_excludes_the_platform_is_not_direct_there() -> None:
    text = lock(["a", "b ; sys_platform == 'win32'"], {"a": ("1", ["b"]), "b": ("2", [])})
    provenance = (prov("a==1", "base", "peach.yaml:3"), prov("b==2; sys_platform == 'win32'", "base", "peach.yaml:4"))
    rows = rows_by_name(show(view(text, provenance)))
    assert rows["b"].direct is False and rows["b"].pulled_in_by == ("a",)
    assert rows_by_name(show(view(text, provenance, platform=WINDOWS)))["b"].direct is True


def test_show_without_provenance_still_marks_direct_requirements() -> None:
    text = lock(["a"], {"a": ("1", ["b"]), "b": ("2", [])})
    rows = rows_by_name(show(view(text, (), requirements=["A==1"])))
    assert rows["a"].direct and rows["a"].requirement == "A==1" and rows["a"].tier == ""
    assert rows["b"].pulled_in_by == ("a",)
