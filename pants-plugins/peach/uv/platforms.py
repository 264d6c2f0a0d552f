"""The image's platforms, and making a universal `uv.lock` agree with what each platform installs.

uv's universal lock reads one wheel's metadata per package version and assumes every wheel of that
version says the same. Some do not: torch 2.0.0's `manylinux1_x86_64` wheel requires eleven
`nvidia-*` packages and `triton`, its `manylinux2014_aarch64` wheel none, and uv reads the latter.
A platform-specific resolution (`uv pip compile --python-platform`) reads the wheel of that
platform and gets it right. So peach resolves each environment for each platform too, compares,
and where a package's dependencies differ, declares that package's metadata for uv
(`[[tool.uv.dependency-metadata]]`: what each platform's resolution saw, under that platform's
marker) and locks again. What still differs fails the build.

No Pants imports.
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from packaging.markers import Marker
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from peach.config.names import canonical_name
from peach.config.requirements import UV_MARKER_SEPARATOR, render_requirement
from peach.uv.lockfile import DependencyMetadata, Installed, Lock, closure
from peach.uv.runner import FILE_URL_TOKEN

VALID_PLATFORMS = (
    "`x86_64-manylinux_2_28` (or another `manylinux_X_Y`), `aarch64-manylinux_2_28`, "
    "`x86_64-unknown-linux-gnu`, `linux`, `aarch64-apple-darwin`, `x86_64-apple-darwin`, `macos`, "
    "`x86_64-pc-windows-msvc`, `windows`: uv's `--python-platform` values"
)

_LINUX = re.compile(r"^(x86_64|aarch64)-(manylinux_\d+_\d+|musllinux_\d+_\d+|manylinux\d+|unknown-linux-gnu|unknown-linux-musl)$")
_DARWIN = re.compile(r"^(x86_64|aarch64)-apple-darwin$")
_WINDOWS = re.compile(r"^(x86_64|aarch64)-pc-windows-msvc$")
_ALIASES = {"linux": "x86_64-unknown-linux-gnu", "macos": "aarch64-apple-darwin", "windows": "x86_64-pc-windows-msvc"}


@dataclass(frozen=True)
class Platform:
    """One of the image's platforms: uv's name for it and its PEP 508 environment."""

    name: str  # as given, passed to `uv pip compile --python-platform`
    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str

    @property
    def marker(self) -> str:
        return f"sys_platform == '{self.sys_platform}' and platform_machine == '{self.platform_machine}'"

    def environment(self, python_version: str) -> Dict[str, str]:
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{python_version}.0",
            "os_name": self.os_name,
            "platform_machine": self.platform_machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": self.platform_system,
            "platform_version": "",
            "python_full_version": f"{python_version}.0",
            "python_version": python_version,
            "sys_platform": self.sys_platform,
            "extra": "",
        }


def parse_platform(name: str) -> Optional[Platform]:
    """The platform uv calls `name`, or None when peach does not know it."""
    full = _ALIASES.get(name, name)
    for pattern, system in ((_LINUX, "linux"), (_DARWIN, "darwin"), (_WINDOWS, "win32")):
        match = pattern.match(full)
        if not match:
            continue
        arch = match.group(1)
        if system == "linux":
            return Platform(name, "linux", "Linux", arch, "posix")
        if system == "darwin":
            return Platform(name, "darwin", "Darwin", "arm64" if arch == "aarch64" else "x86_64", "posix")
        return Platform(name, "win32", "Windows", "ARM64" if arch == "aarch64" else "AMD64", "nt")
    return None


def wheel_fits(filename: str, platform: Platform) -> bool:
    """Whether a wheel's platform tags allow `platform` (any architecture-independent wheel does):
    one of them is among the platform tags `platform` installs (`_platform_tag_names`, as uv and
    pip list them), so its libc and OS version count, not only its OS family and architecture."""
    try:
        tags = parse_wheel_filename(filename.rsplit("/", 1)[-1])[3]
    except InvalidWheelFilename:
        return False
    accepted = _accepted_platform_tags(platform)
    return any(tag.platform == "any" or tag.platform in accepted for tag in tags)


@functools.lru_cache(maxsize=None)
def _accepted_platform_tags(platform: Platform) -> frozenset:
    return frozenset(_platform_tag_names(platform))


# uv's defaults where a platform name carries no libc or OS version (uv's `--python-platform` docs).
_DEFAULT_GLIBC = (2, 17)
_DEFAULT_MUSL = (1, 2)
_DEFAULT_MACOS = (13, 0)
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_VERSION = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}


def _platform_tag_names(platform: Platform) -> List[str]:
    """The wheel platform tags `platform` accepts, most specific first (as pip and uv order them)."""
    arch = platform.platform_machine
    if platform.sys_platform == "linux":
        flavour = _LINUX.match(_ALIASES.get(platform.name, platform.name))
        libc = flavour.group(2) if flavour else "unknown-linux-gnu"
        names: List[str] = []
        if libc.startswith("musllinux_") or libc == "unknown-linux-musl":
            major, minor = (tuple(int(x) for x in libc.split("_")[1:3]) if libc.startswith("musllinux_")
                            else _DEFAULT_MUSL)
            names = [f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
        else:
            if libc.startswith("manylinux_"):
                major, minor = (int(x) for x in libc.split("_")[1:3])
            else:
                major, minor = _LEGACY_VERSION.get(libc, _DEFAULT_GLIBC)
            oldest = 5 if arch == "x86_64" else 17
            for m in range(minor, oldest - 1, -1):
                names.append(f"manylinux_{major}_{m}_{arch}")
                legacy = _LEGACY_MANYLINUX.get((major, m))
                if legacy and (legacy == "manylinux2014" or arch == "x86_64"):
                    names.append(f"{legacy}_{arch}")
        return names + [f"linux_{arch}"]
    if platform.sys_platform == "darwin":
        return list(mac_platforms(_DEFAULT_MACOS, arch))
    return ["win_arm64" if arch == "ARM64" else "win_amd64"]


@functools.lru_cache(maxsize=None)
def supported_tags(platform: Platform, python_version: str) -> Dict[Tag, int]:
    """Every wheel tag a CPython `python_version` on `platform` installs, with its priority (0 best).

    The order is pip's and uv's: the interpreter's own ABI first, then abi3, then pure Python; within
    each, the most specific platform tag first. Cached: treat the result as read-only.
    """
    version = tuple(int(x) for x in python_version.split(".")[:2])
    platforms = _platform_tag_names(platform)
    ordered = list(cpython_tags(version, platforms=platforms)) + list(
        compatible_tags(version, f"cp{version[0]}{version[1]}", platforms))
    ranks: Dict[Tag, int] = {}
    for tag in ordered:
        ranks.setdefault(tag, len(ranks))
    return ranks


def best_wheel(filenames: Sequence[str], tags: Mapping[Tag, int]) -> Optional[int]:
    """The index in `filenames` of the wheel uv installs given the `supported_tags`, or None when
    none fits: the one whose best tag ranks first (the first such file on a tie)."""
    best: Optional[Tuple[int, int]] = None
    for i, filename in enumerate(filenames):
        try:
            wheel_tags = parse_wheel_filename(filename.rsplit("/", 1)[-1])[3]
        except InvalidWheelFilename:
            continue
        ranks = [tags[t] for t in wheel_tags if t in tags]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), i)
    return None if best is None else best[1]


@dataclass(frozen=True)
class Override:
    """A package pinned to one file (`uv pip compile --overrides`): its name and the file's URL."""

    name: str
    url: str

    def __str__(self) -> str:
        """The line of an overrides file: `name @ url`."""
        return f"{self.name} @ {self.url}"


def pinned_overrides(lock: Lock, names: Sequence[str], platform: Platform, directory_index: str = "") -> Tuple[Override, ...]:
    """`name @ <file>` for each of `names` that the lock holds: the file the lock has for it.

    A platform-specific resolution (`uv pip compile`) applies neither `override-dependencies` nor
    the sources pins to packages that only arrive transitively; these overrides make it take the
    same private file as the lock. `directory_index` (relative to the build root) is where a
    directory index's wheels, recorded as paths, lie.
    """
    overrides = []
    for name in sorted(names):
        package = lock.get(name)
        if package is None or not package.wheels:
            continue
        wheel = next((w for w in package.wheels if wheel_fits(w, platform)), package.wheels[0])
        if not wheel.startswith(("http://", "https://", "file://")):
            wheel = f"{FILE_URL_TOKEN}/{directory_index.strip('/')}/{wheel}"
        overrides.append(Override(package.name, wheel))
    return tuple(overrides)


def lock_constraints(lock: Lock, exclude: Sequence[str] = ()) -> Tuple[str, ...]:
    """`name==version` for each package the lock takes from an index (once), but `exclude`.

    A platform's resolution under these constraints installs the lock's versions: what it then
    installs differently from the lock comes from the wheels' metadata, not from newer releases (a
    committed or aligned lock keeps older versions than a fresh resolution would take).
    """
    skip = {canonical_name(n) for n in exclude}
    counts: Dict[str, int] = {}
    for package in lock.packages:
        counts[package.name] = counts.get(package.name, 0) + 1
    return tuple(sorted(
        f"{p.name}=={p.version}" for p in lock.packages
        if not p.is_root and p.registry and counts[p.name] == 1 and p.name not in skip
    ))


def offline_is_online(
    packages: Mapping[str, Installed], constraints: Sequence[str], overrides: Sequence[Override]
) -> bool:
    """Whether an offline `uv pip compile` answer is the answer the online one would give.

    Offline, uv resolves from whatever its cache holds: a package that no constraint pins takes
    whichever of its versions the cache happens to have (torch's `nvidia-*` packages the first time
    an environment with torch is checked), so such an answer depends on the machine. When every
    package of the answer is pinned (`name==version` by `constraints`, `name @ <file>` by
    `overrides`), there is no version to choose: offline and online both install those versions,
    and each package's dependencies are those of the same wheel's metadata (the files of a release
    do not change). Only then may the offline answer stand.
    """
    pinned = {canonical_name(c.split("==", 1)[0]) for c in constraints}
    pinned |= {canonical_name(o.name) for o in overrides}
    return all(canonical_name(name) in pinned for name in packages)


def evaluator(platform: Platform, python_version: str):
    env = platform.environment(python_version)
    cache: Dict[str, bool] = {}

    def evaluate(marker: str) -> bool:
        if marker not in cache:
            with warnings.catch_warnings():
                # packaging 21.3 (the version Pants ships) uses pyparsing APIs newer pyparsing deprecates.
                warnings.simplefilter("ignore", DeprecationWarning)
                cache[marker] = Marker(marker).evaluate(env)
        return cache[marker]

    return evaluate


# ---------------------------------------------------------------------------------------------
# `uv pip compile` output
# ---------------------------------------------------------------------------------------------

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:==(\S+)| @ (\S+))\s*(?:#\s*via\s+(.*))?$")


def parse_compile(text: str) -> Dict[str, Installed]:
    """`uv pip compile --annotation-style line` output: each package's version and children.

    A package's children are the packages whose `via` names it.
    """
    versions: Dict[str, str] = {}
    parents: Dict[str, List[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if not match:
            raise ValueError(f"unexpected line in uv's resolution: {line.strip()!r}")
        name = canonical_name(match.group(1))
        versions[name] = match.group(2) or _version_of_url(match.group(3))
        vias = [v.strip() for v in (match.group(4) or "").split(",")]
        parents[name] = [canonical_name(v) for v in vias if v and re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", v)]
    children: Dict[str, set] = {name: set() for name in versions}
    for child, of in parents.items():
        for parent in of:
            if parent in children:
                children[parent].add(child)
    return {name: Installed(versions[name], tuple(sorted(children[name]))) for name in sorted(versions)}


def _version_of_url(url: str) -> str:
    """The version of a package pinned to a file (`name @ <url>`), from the wheel's name."""
    try:
        return str(parse_wheel_filename(url.rsplit("/", 1)[-1])[1])
    except InvalidWheelFilename:
        return url


# ---------------------------------------------------------------------------------------------
# Comparing, and the fix
# ---------------------------------------------------------------------------------------------


def differences(locked: Mapping[str, Installed], resolved: Mapping[str, Installed]) -> List[str]:
    """How the lock's view of one platform differs from that platform's own resolution."""
    rows = []
    for name in sorted(set(resolved) - set(locked)):
        rows.append(f"missing {name}=={resolved[name].version}")
    for name in sorted(set(locked) - set(resolved)):
        rows.append(f"extra {name}=={locked[name].version}")
    for name in sorted(set(locked) & set(resolved)):
        if locked[name].version != resolved[name].version:
            rows.append(f"{name} {locked[name].version} instead of {resolved[name].version}")
    return rows


def check(
    lock: Lock, resolutions: Mapping[Platform, Mapping[str, Installed]], python_version: str
) -> Dict[str, List[str]]:
    """Per platform name, the differences between the lock and that platform's resolution."""
    result = {}
    for platform, resolved in resolutions.items():
        rows = differences(closure(lock, evaluator(platform, python_version)), resolved)
        if rows:
            result[platform.name] = rows
    return result


def metadata_fixes(
    lock: Lock, resolutions: Mapping[Platform, Mapping[str, Installed]], python_version: str
) -> Tuple[DependencyMetadata, ...]:
    """Metadata for every package whose dependencies, on some platform, differ from the lock's.

    Each entry lists, for every platform, what that platform's resolution says the package pulls
    in, pinned to the resolved versions and under that platform's marker.
    """
    views = {p: closure(lock, evaluator(p, python_version)) for p in resolutions}
    wrong = set()
    for platform, resolved in resolutions.items():
        locked = views[platform]
        for name, installed in resolved.items():
            if name not in locked:
                # Fix the packages of the lock that should pull it in; packages that only other
                # missing ones pull in follow once those are fixed.
                wrong.update(parent for parent in _parents_of(name, resolved) if parent in locked)
            elif locked[name].children != installed.children:
                wrong.add(name)
    fixes = []
    for name in sorted(wrong):
        requires, version = [], None
        for platform, resolved in resolutions.items():
            if name not in resolved:
                continue
            version = version or resolved[name].version
            requires.extend(render_requirement(child, (), f"=={resolved[child].version}", platform.marker,
                                               UV_MARKER_SEPARATOR) for child in resolved[name].children)
        if version is None:
            continue
        locked = lock.get(name)
        extras = tuple(extra for extra, _ in locked.optional) if locked else ()
        fixes.append(DependencyMetadata(name, version, tuple(requires), extras))
    return tuple(fixes)


def _parents_of(name: str, resolved: Mapping[str, Installed]) -> set:
    return {parent for parent, installed in resolved.items() if name in installed.children}


def describe(found: Mapping[str, Sequence[str]], limit: int = 12) -> str:
    lines = []
    for platform, rows in sorted(found.items()):
        shown = ", ".join(rows[:limit]) + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
        lines.append(f"{platform}: {shown}")
    return "; ".join(lines)
