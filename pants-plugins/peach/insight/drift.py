"""`drift`: packages locked at different versions in different environments of one codops.

No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from peach.config.requirements import Tier
from peach.config.typed import TextEnum
from peach.insight.view import Analysis, EnvironmentView, group_views

class DriftStatus(TextEnum):
    """Whether a package's versions differ because the requirements differ (`intended`), or by accident (`drift`)."""

    INTENDED = "intended"
    DRIFT = "drift"


@dataclass(frozen=True)
class DriftEntry:
    """One environment that installs the package: its version and its final requirement for it.

    `requirement`, `tier` and `source` are empty when the package is transitive there (not in the
    final list, or its marker does not hold on the platform); `specifier` is empty when it is
    transitive or bare.
    """

    environment: str
    version: str
    requirement: str = ""
    specifier: str = ""
    tier: str = ""
    source: str = ""

    @property
    def pinned_here(self) -> bool:
        """A specifier that the environment's own tier put there."""
        return bool(self.specifier) and self.tier == Tier.ENVIRONMENT

    def describe(self) -> str:
        if not self.requirement:
            return "transitive"
        if not self.specifier:
            return f"bare `{self.requirement}`"
        return f"`{self.requirement}` ({self.tier}, {self.source})"

    def as_json(self) -> dict:
        return {
            "environment": self.environment,
            "version": self.version,
            "requirement": self.requirement or None,
            "tier": self.tier or None,
            "source": self.source or None,
        }


@dataclass(frozen=True)
class DriftPackage:
    name: str
    entries: Tuple[DriftEntry, ...]  # the environments that install it, by environment name
    status: DriftStatus
    reason: str

    @property
    def versions(self) -> Tuple[Tuple[str, str], ...]:
        return tuple((e.environment, e.version) for e in self.entries)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "versions": {e.environment: e.version for e in self.entries},
            "environments": [e.as_json() for e in self.entries],
        }


@dataclass(frozen=True)
class CodopsDrift:
    """The environments of one codops seen on one platform, and the packages whose versions differ."""

    codops: str
    platform: str
    python_version: str
    environments: Tuple[str, ...]
    packages: Tuple[DriftPackage, ...]  # by name

    @property
    def drift_count(self) -> int:
        return sum(1 for p in self.packages if p.status == DriftStatus.DRIFT)

    @property
    def intended_count(self) -> int:
        return sum(1 for p in self.packages if p.status == DriftStatus.INTENDED)

    def headline(self) -> str:
        where = f"{self.codops} ({self.platform}, Python {self.python_version})"
        n = len(self.environments)
        if not self.packages:
            return f"{where}: every package is locked at one version across its {n} environment{'s' * (n != 1)}"
        return (f"{where}: {len(self.packages)} package{'s' * (len(self.packages) != 1)} at different versions "
                f"across {n} environments ({self.drift_count} drift, {self.intended_count} intended)")

    def as_json(self) -> dict:
        return {
            "codops": self.codops,
            "platform": self.platform,
            "python_version": self.python_version,
            "environments": list(self.environments),
            "drift_count": self.drift_count,
            "intended_count": self.intended_count,
            "packages": [p.as_json() for p in self.packages],
        }


@dataclass(frozen=True)
class DriftResult:
    codops: Tuple[CodopsDrift, ...]  # by codops, then platform and Python version

    @property
    def drift_count(self) -> int:
        return sum(c.drift_count for c in self.codops)

    @property
    def intended_count(self) -> int:
        return sum(c.intended_count for c in self.codops)

    def as_json(self) -> dict:
        return {
            "drift_count": self.drift_count,
            "intended_count": self.intended_count,
            "codops": [c.as_json() for c in self.codops],
        }


def has_drift(result: DriftResult) -> bool:
    """Whether a `--fail`-style check should fail: some package drifts (intended differences pass)."""
    return result.drift_count > 0


def drift(views: Sequence[EnvironmentView]) -> DriftResult:
    """Per codops, every package that its environments install at different versions.

    Views are grouped by (codops, platform, Python version): only what one platform installs is
    compared. A package *differs* when the environments that install it on that platform (the
    environments *concerned*; those that do not install it are left out) install at least two
    versions of it. For each environment concerned, its *specifier* for the package is the version
    specifier of the package's entry in the environment's final requirement list when the package
    is a direct requirement there (in the list, marker holding on the platform), and "" when it is
    transitive or bare.

    Two environments concerned *disagree unexplained* when they install different versions, have
    the same specifier, and in neither of them the entry that won is a specifier from the
    `environment` tier (a pin for that environment). A differing package is **drift** when some two
    environments concerned disagree unexplained: nobody pinned it apart (it is transitive or bare in
    both, or both have the same specifier from a shared tier: injected, base, framework, and the
    resolutions still chose different versions). Otherwise it is **intended**: every difference is
    explained, (a) by an `environment`-tier specifier in at least one of the two environments (someone
    pinned it for that environment), or (b) by different specifiers in their final requirements.
    With two environments this is: intended when (a) or (b) holds for them, drift otherwise.
    """
    result = []
    for (codops, platform, python_version), members in group_views(views).items():
        installed: Dict[str, List[DriftEntry]] = {}
        for view in members:
            analysis = Analysis(view)
            for name, package in analysis.installed.items():
                installed.setdefault(name, []).append(_entry(analysis, name, package.version))
        packages = []
        for name in sorted(installed):
            entries = tuple(installed[name])
            if len({e.version for e in entries}) > 1:
                status, reason = classify(entries)
                packages.append(DriftPackage(name, entries, status, reason))
        result.append(CodopsDrift(codops, platform, python_version, tuple(v.environment for v in members),
                                  tuple(packages)))
    return DriftResult(tuple(result))


def _entry(analysis: Analysis, name: str, version: str) -> DriftEntry:
    env = analysis.view.environment
    if not analysis.is_direct(name):
        return DriftEntry(env, version)
    direct = analysis.declared[name]
    prov = direct.provenance
    return DriftEntry(env, version, direct.requirement, direct.specifier, prov.tier if prov else "",
                      prov.source if prov else "")


def classify(entries: Sequence[DriftEntry]) -> Tuple[DriftStatus, str]:
    """`intended` or `drift` (see `drift`), and why in words."""
    pinned = [e for e in entries if e.pinned_here]
    pins = "pinned in " + "; ".join(f"{e.environment} by {e.describe()}" for e in pinned)
    by_specifier: Dict[str, List[DriftEntry]] = {}
    for e in entries:
        if not e.pinned_here:
            by_specifier.setdefault(e.specifier, []).append(e)
    unexplained = [group for group in by_specifier.values() if len({e.version for e in group}) > 1]
    if not unexplained:
        if pinned:
            return DriftStatus.INTENDED, pins
        return DriftStatus.INTENDED, "the requirements differ: " + _grouped(entries)
    reasons = []
    for group in unexplained:
        specifier = group[0].specifier
        if not specifier:
            reasons.append("nobody pins it: " + _grouped(group))
            continue
        tiers = ", ".join(sorted({e.tier for e in group}))
        who = "every environment asks" if len(group) == len(entries) else \
            ", ".join(e.environment for e in group) + " ask"
        reasons.append(f"{who} for `{specifier}` ({tiers}), yet the resolutions chose different versions")
    if pinned:
        reasons.append(pins + ", which explains only its own version")
    return DriftStatus.DRIFT, "; ".join(reasons)


def _grouped(entries: Sequence[DriftEntry]) -> str:
    """`transitive in cv, ml; bare `numpy` in base`: environments grouped by what they declare."""
    groups: Dict[str, List[str]] = {}
    for e in entries:
        groups.setdefault(e.describe(), []).append(e.environment)
    return "; ".join(f"{what} in {', '.join(envs)}" for what, envs in groups.items())
