"""How big an environment is on the image, who makes it big, and its size budget.

Sizes come from the lock's own records: uv writes each wheel's and sdist's `size` (bytes) into
`uv.lock`, so no process runs and nothing is downloaded. For each package a platform installs, the
size is that of the wheel uv picks there (the best-ranked compatible tag, `supported_tags`); a package
without a fitting wheel counts with its sdist's size (uv builds it); a file whose size the lock does
not record (a directory index's wheels) is of unknown size and counts as 0, said where it matters.
These are download sizes (compressed); what an install writes is larger (see the README).

No Pants imports.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from peach.config.ids import EnvironmentId
from peach.config.requirements import Provenance
from peach.insight.view import Analysis, EnvironmentView
from peach.uv.lockfile import Installed, Lock, LockedPackage, closure, parse_lock
from peach.uv.platforms import Platform, best_wheel, evaluator, supported_tags

UNKNOWN = -1
BUDGET_OPTION = "[peach].size_budgets"


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageSize:
    """One installed package: its download size in bytes (UNKNOWN when the lock records none), the
    file that size is of, and `kind`: `wheel`, `sdist` (no wheel fits the platform: uv builds it)
    or `unknown` (no file with a recorded size)."""

    name: str
    version: str
    size: int
    file: str
    kind: str

    @property
    def known(self) -> bool:
        return self.size != UNKNOWN


@dataclass(frozen=True)
class PlatformSize:
    """What one platform installs from one lock, package by package (sorted by name)."""

    platform: str
    packages: Tuple[PackageSize, ...]

    @property
    def total(self) -> int:
        """The download size of every package whose size the lock records."""
        return sum(p.size for p in self.packages if p.known)

    @property
    def unknown(self) -> Tuple[str, ...]:
        return tuple(p.name for p in self.packages if not p.known)

    def of(self, name: str) -> int:
        return next((p.size for p in self.packages if p.name == name), UNKNOWN)

    def sum(self, names: Iterable[str]) -> int:
        wanted = set(names)
        return sum(p.size for p in self.packages if p.name in wanted and p.known)

    def as_json(self) -> dict:
        return {"bytes": self.total, "packages": {p.name: (p.size if p.known else None) for p in self.packages},
                "unknown": list(self.unknown)}


@dataclass(frozen=True)
class EnvironmentSize:
    """An environment's size on each of the image's platforms (in `[peach].platforms` order)."""

    platforms: Tuple[PlatformSize, ...]

    def as_json(self, budget: Optional["Budget"] = None) -> dict:
        """`environments.json`'s `size` of one environment."""
        return {
            "kind": "download",
            "platforms": {p.platform: p.as_json() for p in self.platforms},
            "budget": budget.as_json() if budget else None,
        }


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def package_size(package: LockedPackage, platform: Platform, python_version: str) -> PackageSize:
    """The size of what `platform` installs of `package`: the wheel uv picks, else the sdist."""
    chosen = best_wheel(package.wheels, supported_tags(platform, python_version))
    if chosen is not None:
        size = package.wheel_sizes[chosen] if chosen < len(package.wheel_sizes) else UNKNOWN
        return PackageSize(package.name, package.version, size, _file_name(package.wheels[chosen]),
                           "wheel" if size != UNKNOWN else "unknown")
    sdist = next((f for f in package.files if not f.endswith(".whl")), "")
    if package.sdist_size != UNKNOWN:
        return PackageSize(package.name, package.version, package.sdist_size, _file_name(sdist), "sdist")
    return PackageSize(package.name, package.version, UNKNOWN, "", "unknown")


def sizes_of(lock: Lock, installed: Mapping[str, Installed], platform: Platform, python_version: str) -> PlatformSize:
    """The size of each package in `installed` (what `closure` says `platform` installs)."""
    by_key = {(p.name, p.version): p for p in lock.packages if not p.is_root}
    rows = []
    for name in sorted(installed):
        package = by_key.get((name, installed[name].version))
        if package is None:
            rows.append(PackageSize(name, installed[name].version, UNKNOWN, "", "unknown"))
        else:
            rows.append(package_size(package, platform, python_version))
    return PlatformSize(platform.name, tuple(rows))


def lock_size(lock: Lock, platforms: Sequence[Platform], python_version: str) -> EnvironmentSize:
    """What each of `platforms` installs from `lock`, package by package."""
    return EnvironmentSize(tuple(
        sizes_of(lock, closure(lock, evaluator(p, python_version)), p, python_version) for p in platforms))


def environment_size(lock_text: str, platforms: Sequence[Platform], python_version: str) -> EnvironmentSize:
    return lock_size(parse_lock(lock_text), platforms, python_version)


# ---------------------------------------------------------------------------------------------
# Who makes it big
# ---------------------------------------------------------------------------------------------


def _reachable(installed: Mapping[str, Installed], roots: Iterable[str], blocked: str = "") -> FrozenSet[str]:
    seen: set = set()
    stack = [r for r in roots if r != blocked]
    while stack:
        name = stack.pop()
        if name in seen or name not in installed or name == blocked:
            continue
        seen.add(name)
        stack.extend(installed[name].children)
    return frozenset(seen)


def exclusive(installed: Mapping[str, Installed], roots: Iterable[str], name: str) -> FrozenSet[str]:
    """`name` and its exclusive dependencies: the installed packages every path from a direct
    requirement (`roots`) to which goes through `name`. Empty when `name` is not installed."""
    if name not in installed:
        return frozenset()
    kept = _reachable(installed, roots, blocked=name)
    return frozenset(n for n in installed if n not in kept)


def removal_saves(installed: Mapping[str, Installed], roots: Iterable[str], name: str) -> FrozenSet[str]:
    """What leaves the environment when the direct requirement `name` is no longer declared: the
    installed packages no other direct requirement reaches (nothing when another one pulls `name` in)."""
    kept = _reachable(installed, [r for r in roots if r != name])
    return frozenset(n for n in installed if n not in kept)


def share(part: int, total: int) -> float:
    return 100.0 * part / total if total > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def format_size(size: int) -> str:
    """`2.4 GiB`, `594.1 MiB`, `38.8 KiB`, `512 B`; `?` when unknown."""
    if size == UNKNOWN:
        return "?"
    for unit, factor in _UNITS:
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def format_change(change: int) -> str:
    """`+36.2 KiB`, `-1.2 MiB`, `+0 B`."""
    return ("-" if change < 0 else "+") + format_size(abs(change))


# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_FACTORS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
            "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
VALID_SIZES = "a number of bytes, or a number with a unit: B, kB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (of 1024)"


class BudgetOptionError(ValueError):
    """`[peach].size_budgets` is not valid: the message names the option, the entry and the fix."""


@dataclass(frozen=True)
class Budget:
    pattern: str  # `codops/environment`, shell-style (`zzebu/*`, `*/ml`, `*`)
    limit: int  # bytes
    text: str  # as written in the option

    def matches(self, label: str) -> bool:
        return fnmatch.fnmatchcase(label, self.pattern)

    @property
    def specificity(self) -> int:
        return sum(1 for c in self.pattern if c not in "*?[]")

    def describe(self) -> str:
        return f"{format_size(self.limit)} (`{BUDGET_OPTION}`: `{self.pattern}` = `{self.text}`)"

    def as_json(self) -> dict:
        return {"bytes": self.limit, "pattern": self.pattern}


def parse_size(value: object) -> Optional[int]:
    """Bytes, from an int or a text such as `3GiB`, `500 MB`, `1.5 GiB`; None when not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if not match or match.group(2).lower() not in _FACTORS:
        return None
    return int(float(match.group(1)) * _FACTORS[match.group(2).lower()])


def parse_budgets(raw: Mapping[str, object]) -> Tuple[Budget, ...]:
    """The budgets of `[peach].size_budgets`, sorted by pattern; every bad entry in one error."""
    problems: List[str] = []
    budgets = []
    for pattern in sorted(raw):
        value = raw[pattern]
        key = str(pattern).strip()
        if "/" not in key and key != "*":
            problems.append(f"`{key}` is not a `codops/environment` pattern: write `*/{key}` for an environment "
                            f"of every codops, `{key}/*` for every environment of a codops, or `*` for all")
            continue
        limit = parse_size(value)
        if limit is None:
            problems.append(f"`{key}` = `{value!r}` is not a size: use {VALID_SIZES}, e.g. `\"3GiB\"`")
            continue
        budgets.append(Budget(key, limit, str(value)))
    if problems:
        raise BudgetOptionError(
            f"{BUDGET_OPTION} is not valid:\n" + "\n".join(f"  - {p}" for p in problems)
            + f"\nFix the entries in `pants.toml` (`[peach]` `size_budgets = {{\"zzebu/ml\" = \"3GiB\"}}`) or on the "
              "command line (`--peach-size-budgets=\"{'zzebu/ml': '3GiB'}\"`).")
    return tuple(budgets)


def budget_for(budgets: Sequence[Budget], label: str) -> Optional[Budget]:
    """The budget of the environment `codops/environment`: of the patterns that match it, the most
    specific (most characters that are not wildcards); on a tie the smallest limit."""
    matching = [b for b in budgets if b.matches(label)]
    if not matching:
        return None
    return min(matching, key=lambda b: (-b.specificity, b.limit, b.pattern))


def over_budget_message(
    label: str, size: PlatformSize, budget: Budget, installed: Mapping[str, Installed],
    roots: Sequence[str], provenance: Mapping[str, str], pulled_in_by: Mapping[str, Sequence[str]],
    declarations: int = 5, packages: int = 10,
) -> str:
    """The failure of an environment over its budget on one platform: its size, the budget, the
    direct requirements that weigh most (with what removing each would save) and the largest
    packages, each with the config lines that brought it in.

    `provenance`: per direct requirement, `requirement (tier, file:line)`; `pulled_in_by`: per
    transitive package, the direct requirements whose dependencies hold it.
    """
    total = size.total
    lines = [f"environment `{label}` is over its size budget on {size.platform}: {format_size(total)} "
             f"({total:,} bytes) against {budget.describe()}. Sizes are the download sizes of the files "
             f"its uv.lock records for that platform."]
    weights = []
    for root in roots:
        saves = removal_saves(installed, roots, root)
        weights.append((size.sum(saves), root, len(saves)))
    weights.sort(key=lambda w: (-w[0], w[1]))
    lines.append("")
    lines.append("What removing each declaration would save (it and what only it pulls in):")
    for saved, root, count in weights[:declarations]:
        lines.append(f"    {format_size(saved):>10}  {share(saved, total):5.1f}%  {count:>3} packages  "
                     f"{provenance.get(root, root)}")
    largest = sorted((p for p in size.packages if p.known), key=lambda p: (-p.size, p.name))[:packages]
    lines.append("")
    lines.append("The largest packages, and the config lines that bring them in:")
    for p in largest:
        via = [provenance[p.name]] if p.name in provenance else [provenance.get(d, d) for d in pulled_in_by.get(p.name, ())]
        shown = "; ".join(via[:3]) + (f" and {len(via) - 3} more" if len(via) > 3 else "")
        lines.append(f"    {format_size(p.size):>10}  {p.name} {p.version}  "
                     + (f"<- {shown}" if shown else "(reached from no direct requirement)"))
    if size.unknown:
        lines.append(f"(the lock records no size for {len(size.unknown)} package(s), counted as 0: "
                     f"{', '.join(size.unknown[:8])}{' ...' if len(size.unknown) > 8 else ''})")
    example = label
    lines.append("")
    lines.append(f"Fix: remove or slim the declarations above (a smaller variant, a pin to a version with lighter "
                 f"dependencies), or raise the budget in `pants.toml`: `[peach]` `size_budgets = {{\"{example}\" = "
                 f"\"{_suggest(total)}\"}}` (or `--peach-size-budgets=\"{{'{example}': '{_suggest(total)}'}}\"`).")
    return "\n".join(lines)


def budget_problem(
    codops: str, environment: str, requirements: Sequence[str], provenance: Sequence[Provenance], lock_text: str,
    size: EnvironmentSize, budgets: Sequence[Budget], platforms: Sequence[Platform], python_version: str,
) -> Optional[str]:
    """None when the environment is within its budget (or has none) on every platform; else the
    message of `over_budget_message` for the first platform it exceeds."""
    label = EnvironmentId(codops, environment).name
    budget = budget_for(budgets, label)
    if budget is None:
        return None
    for platform, platform_size in zip(platforms, size.platforms):
        if platform_size.total <= budget.limit:
            continue
        analysis = Analysis(EnvironmentView(codops, environment, tuple(requirements), tuple(provenance), lock_text,
                                            platform, python_version))
        lines = {}
        for name, direct in analysis.declared.items():
            prov = direct.provenance
            lines[name] = f"{direct.requirement} ({prov.tier}, {prov.source})" if prov else direct.requirement
        pulled = {name: analysis.pulled_in_by(name) for name in analysis.installed}
        return over_budget_message(label, platform_size, budget, analysis.installed, analysis.direct_names, lines, pulled)
    return None


def _suggest(total: int) -> str:
    """A budget in whole GiB (or MiB) just above `total`."""
    if total >= 1 << 30:
        return f"{-(-total // (1 << 30))}GiB"
    return f"{max(1, -(-total // (1 << 20)))}MiB"


@dataclass(frozen=True)
class SizeChange:
    """One environment's size on one platform before and after a build."""

    platform: str
    before: int
    after: int

    @property
    def change(self) -> int:
        return self.after - self.before

    def as_json(self) -> dict:
        return {"before": self.before, "after": self.after, "change": self.change}


def size_changes(before: Optional[EnvironmentSize], after: EnvironmentSize) -> Tuple[SizeChange, ...]:
    """Per platform of `after`: its size in `before` (0 when there was none) and in `after`."""
    old: Dict[str, int] = {p.platform: p.total for p in before.platforms} if before else {}
    return tuple(SizeChange(p.platform, old.get(p.platform, 0), p.total) for p in after.platforms)
