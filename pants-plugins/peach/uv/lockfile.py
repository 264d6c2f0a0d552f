"""Reading `uv.lock`: its packages, the audit of private packages, the closure one platform
installs, and what changed between two locks.

No Pants imports. TOML is read with the standard library's `tomllib` where it exists (Python 3.11+)
and otherwise with `toml`, which Pants itself ships: a `uv.lock` of a hundred packages is read in
a few hundredths of a second (tomlkit needs ten times as long).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from peach.config.names import canonical_name, redact_url, url_origin
from peach.config.requirements import UV_MARKER_SEPARATOR, render_requirement
from peach.uv.runner import FILE_URL_TOKEN

try:  # pragma: no cover - depends on the interpreter
    import tomllib as _toml_reader  # pants: no-infer-dep

    def _loads(text: str) -> dict:
        return _toml_reader.loads(text)

except ImportError:  # Python < 3.11, as Pants 2.17 runs on
    import toml as _toml_reader  # type: ignore[no-redef]

    def _loads(text: str) -> dict:
        return _toml_reader.loads(text)


@dataclass(frozen=True)
class LockedDependency:
    name: str
    marker: str = ""
    extras: Tuple[str, ...] = ()


@dataclass(frozen=True)
class LockedPackage:
    name: str  # canonical
    version: str
    registry: str  # `source.registry`, "" for other sources
    source: str  # the source table as JSON, for messages
    dependencies: Tuple[LockedDependency, ...]
    optional: Tuple[Tuple[str, Tuple[LockedDependency, ...]], ...]  # (extra, its dependencies)
    files: Tuple[str, ...]  # wheel and sdist URLs (a flat directory index records paths instead)
    is_root: bool = False
    wheels: Tuple[str, ...] = ()  # each wheel's URL, or its path in a directory index
    requires: Tuple[str, ...] = ()  # the project's own requirements (`[package.metadata]`), for the root
    # The download size in bytes the lock records for each of `wheels` (same order; -1: none recorded,
    # as for a directory index's wheels), and for the sdist (-1: no sdist or no size).
    wheel_sizes: Tuple[int, ...] = ()
    sdist_size: int = -1

    def extra(self, name: str) -> Tuple[LockedDependency, ...]:
        return next((deps for extra, deps in self.optional if extra == name), ())


@dataclass(frozen=True)
class DependencyMetadata:
    """A `[[tool.uv.dependency-metadata]]` entry: the requirements uv assumes for one version."""

    name: str
    version: str
    requires_dist: Tuple[str, ...]
    provides_extras: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Lock:
    packages: Tuple[LockedPackage, ...]
    # The dependency metadata the lock was made with: uv records it as `[[manifest.dependency-metadata]]`.
    declared_metadata: Tuple[DependencyMetadata, ...] = ()

    @property
    def root(self) -> Optional[LockedPackage]:
        return next((p for p in self.packages if p.is_root), None)

    def versions(self) -> Dict[str, str]:
        """Every locked package but the project itself: canonical name -> version."""
        return {p.name: p.version for p in self.packages if not p.is_root}

    def get(self, name: str) -> Optional[LockedPackage]:
        key = canonical_name(name)
        return next((p for p in self.packages if p.name == key and not p.is_root), None)


def _deps(entries: Iterable[Mapping]) -> Tuple[LockedDependency, ...]:
    return tuple(
        LockedDependency(canonical_name(str(e["name"])), str(e.get("marker", "")), tuple(e.get("extra", ())))
        for e in entries
    )


def _requirement(entry: Mapping) -> str:
    """A `requires-dist` entry of the lock, spelled as uv spells it."""
    return render_requirement(str(entry.get("name", "")), entry.get("extras") or (), str(entry.get("specifier", "")),
                              str(entry.get("marker", "") or ""), UV_MARKER_SEPARATOR)


def _size(record: Mapping) -> int:
    size = record.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else -1


@functools.lru_cache(maxsize=64)
def parse_lock(text: str) -> Lock:
    """The parts of a `uv.lock` peach reads. Memoized: one build reads the same lock several times
    (the platform check, the staleness diff, sizes, lock changes) and a 100 kB lock takes the TOML
    reader of Pants' Python about 0.05 s, on pantsd's one interpreter lock. `Lock` is immutable."""
    data = _loads(text)
    packages = []
    for entry in data.get("package", []):
        source = entry.get("source", {}) or {}
        wheel_records = [(str(w.get("url") or w.get("path") or ""), _size(w)) for w in entry.get("wheels", [])]
        wheel_records = [(w, size) for w, size in wheel_records if w]
        sdist = entry.get("sdist")
        files = [w.get("url") for w in entry.get("wheels", []) if w.get("url")]
        if isinstance(entry.get("sdist"), Mapping) and entry["sdist"].get("url"):
            files.append(entry["sdist"]["url"])
        packages.append(LockedPackage(
            name=canonical_name(str(entry.get("name", ""))),
            version=str(entry.get("version", "")),
            registry=str(source.get("registry", "")),
            source=json.dumps({k: str(v) for k, v in source.items()}, sort_keys=True),
            dependencies=_deps(entry.get("dependencies", [])),
            optional=tuple((extra, _deps(deps)) for extra, deps in sorted(entry.get("optional-dependencies", {}).items())),
            files=tuple(str(f) for f in files),
            is_root=source.get("virtual") == "." or source.get("editable") == ".",
            requires=tuple(_requirement(r) for r in entry.get("metadata", {}).get("requires-dist", [])),
            wheels=tuple(w for w, _ in wheel_records),
            wheel_sizes=tuple(size for _, size in wheel_records),
            sdist_size=_size(sdist) if isinstance(sdist, Mapping) else -1,
        ))
    declared = tuple(
        DependencyMetadata(str(m.get("name", "")), str(m.get("version", "")),
                           tuple(str(r) for r in m.get("requires-dist", [])),
                           tuple(str(e) for e in m.get("provides-extras", [])))
        for m in (data.get("manifest", {}) or {}).get("dependency-metadata", [])
    )
    return Lock(tuple(packages), declared)


# ---------------------------------------------------------------------------------------------
# One lock for two projects of the same requirements
# ---------------------------------------------------------------------------------------------

_PACKAGE = "\n\n[[package]]\n"
_NAME = re.compile(r'name = "([^"]+)"\n')


def rename_project(text: str, old: str, new: str) -> str:
    """The `uv.lock` that uv writes for the project `new` when the project `old`, locked in `text`,
    has the same requirements and settings: the same bytes but the root package's name and, since uv
    orders packages by name, its place. (Checked against uv: a committed lockfile made this way is
    current, which `uv lock` started from it confirms byte for byte.)"""
    head, *blocks = text.split(_PACKAGE)
    if not blocks or not text.endswith("\n"):
        raise ValueError("not a uv.lock with packages")
    blocks[-1] = blocks[-1][:-1]
    root = f'name = "{old}"\n'
    at = [i for i, b in enumerate(blocks) if b.startswith(root) and _is_root_block(b)]
    if len(at) != 1:
        raise ValueError(f"the lock has no root project `{old}`")
    block = f'name = "{new}"\n' + blocks.pop(at[0])[len(root):]
    names = [_NAME.match(b).group(1) if _NAME.match(b) else "" for b in blocks]
    if new in names:
        raise ValueError(f"the lock already has a package `{new}`")
    blocks.insert(next((i for i, n in enumerate(names) if n > new), len(blocks)), block)
    return _PACKAGE.join([head, *blocks]) + "\n"


def _is_root_block(block: str) -> bool:
    lines = block.split("\n", 3)
    return len(lines) > 2 and lines[2] in ('source = { virtual = "." }', 'source = { editable = "." }')


# ---------------------------------------------------------------------------------------------
# Where the lock's files point
# ---------------------------------------------------------------------------------------------


def relocate(lock_text: str, root: str) -> str:
    """A lock with sandbox-independent directory-index paths, pointed at the directory `root`."""
    return lock_text.replace(FILE_URL_TOKEN, "file://" + root.rstrip("/"))


def audit(lock: Lock, is_private: Callable[[str], bool], index_url: str) -> Optional[str]:
    """None when every private package in the lock comes from the private index; else the problem.

    Every locked package whose name is private (by name or pattern) is checked, direct or transitive:
    its `source.registry` must be the private index, and (for an http(s) index) every file URL must
    be on the private index's host.
    """
    problems = []
    expected = index_url.rstrip("/")
    for package in lock.packages:
        if package.is_root or not is_private(package.name):
            continue
        registry = package.registry.rstrip("/")
        if registry != expected:
            where = registry or package.source
            problems.append(f"{package.name}=={package.version} comes from {redact_url(where)}, "
                            f"not the private index {redact_url(expected)}")
            continue
        if expected.startswith(("http://", "https://")):
            origin = url_origin(expected)
            for url in package.files:
                if not redact_url(url).startswith(origin + "/"):
                    problems.append(f"{package.name}=={package.version} has a file from {redact_url(url)}, "
                                    "outside the private index")
    return "; ".join(problems) if problems else None


# ---------------------------------------------------------------------------------------------
# What one platform installs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """One package that a platform installs from the lock: its version and the packages it pulls in."""

    version: str
    children: Tuple[str, ...]


def closure(lock: Lock, evaluate: Callable[[str], bool]) -> Dict[str, Installed]:
    """The packages `uv sync` installs from `lock` where markers evaluate as `evaluate` says.

    Starts at the project's dependencies and follows each package's dependencies (and the extras
    requested of it) whose marker holds.
    """
    root = lock.root
    if root is None:
        return {}
    by_name = {p.name: p for p in lock.packages if not p.is_root}
    children: Dict[str, set] = {}
    extras_of: Dict[str, set] = {}
    queue: List[Tuple[str, Tuple[str, ...]]] = []

    def follow(parent: Optional[str], deps: Sequence[LockedDependency]) -> None:
        for dep in deps:
            if dep.marker and not evaluate(dep.marker):
                continue
            if parent is not None:
                children.setdefault(parent, set()).add(dep.name)
            queue.append((dep.name, dep.extras))

    follow(None, root.dependencies)
    seen_extras: Dict[str, set] = {}
    while queue:
        name, extras = queue.pop()
        package = by_name.get(name)
        if package is None:
            continue
        first = name not in seen_extras
        new_extras = set(extras) - seen_extras.setdefault(name, set())
        seen_extras[name] |= set(extras)
        extras_of.setdefault(name, set()).update(extras)
        children.setdefault(name, set())
        if first:
            follow(name, package.dependencies)
        for extra in sorted(new_extras):
            follow(name, package.extra(extra))
    return {name: Installed(by_name[name].version, tuple(sorted(children.get(name, ()))))
            for name in sorted(seen_extras) if name in by_name}


# ---------------------------------------------------------------------------------------------
# What changed
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockChanges:
    added: Tuple[Tuple[str, str], ...]  # (name, version)
    removed: Tuple[Tuple[str, str], ...]
    changed: Tuple[Tuple[str, str, str], ...]  # (name, old version, new version)
    # The project's own requirements, as the two locks record them (requirement strings).
    requirements_added: Tuple[str, ...] = ()
    requirements_removed: Tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.requirements_added or self.requirements_removed)

    def summary(self) -> str:
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} added")
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.changed:
            parts.append(f"{len(self.changed)} changed")
        if not parts and (self.requirements_added or self.requirements_removed):
            parts.append("the same packages, from other requirements")
        return ", ".join(parts) if parts else "no changes"

    def lines(self, limit: int = 40) -> List[str]:
        rows = [f"+ {n}=={v}" for n, v in self.added]
        rows += [f"- {n}=={v}" for n, v in self.removed]
        rows += [f"~ {n} {old} -> {new}" for n, old, new in self.changed]
        rows += [f"requirement + {r}" for r in self.requirements_added]
        rows += [f"requirement - {r}" for r in self.requirements_removed]
        if len(rows) > limit:
            rows = rows[:limit] + [f"... and {len(rows) - limit} more"]
        return rows

    def as_json(self) -> dict:
        return {
            "added": [{"name": n, "version": v} for n, v in self.added],
            "removed": [{"name": n, "version": v} for n, v in self.removed],
            "changed": [{"name": n, "old": old, "new": new} for n, old, new in self.changed],
        }


def changes(
    old: Mapping[str, str], new: Mapping[str, str], old_requires: Sequence[str] = (), new_requires: Sequence[str] = ()
) -> LockChanges:
    """What changed from the versions `old` to `new` (canonical name -> version), and from the
    project requirements `old_requires` to `new_requires`."""
    return LockChanges(
        added=tuple((n, new[n]) for n in sorted(set(new) - set(old))),
        removed=tuple((n, old[n]) for n in sorted(set(old) - set(new))),
        changed=tuple((n, old[n], new[n]) for n in sorted(set(old) & set(new)) if old[n] != new[n]),
        requirements_added=tuple(sorted(set(new_requires) - set(old_requires))),
        requirements_removed=tuple(sorted(set(old_requires) - set(new_requires))),
    )


def lock_changes(old: Lock, new: Lock) -> LockChanges:
    old_root, new_root = old.root, new.root
    return changes(old.versions(), new.versions(), old_root.requires if old_root else (),
                   new_root.requires if new_root else ())
