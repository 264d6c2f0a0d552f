"""One environment as the inspection goals see it, and what its lock installs on one platform.

No Pants imports.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from peach.config.ids import EnvironmentId
from peach.config.names import canonical_name
from peach.config.requirements import (
    Declaration,
    Provenance,
    RequirementSyntaxError,
    Tier,
    parse_requirement,
)
from peach.uv.lockfile import Installed, Lock, closure, parse_lock
from peach.uv.platforms import Platform, evaluator

TIER_ORDER = (Tier.INJECTED, Tier.BASE, Tier.ENVIRONMENT, Tier.FRAMEWORK)


@dataclass(frozen=True)
class EnvironmentView:
    """One environment of one codops, seen on one platform of the image.

    `requirements` is the final list of semantics §4, `provenance` the same list's provenance (same
    order), `lock_text` the environment's `uv.lock`.
    """

    codops: str
    environment: str
    requirements: Tuple[str, ...]
    provenance: Tuple[Provenance, ...]
    lock_text: str
    platform: Platform
    python_version: str

    @property
    def label(self) -> str:
        return EnvironmentId(self.codops, self.environment).name


@dataclass(frozen=True)
class EnvironmentResult:
    """What a goal answers for one environment on one platform: the fields every answer starts with."""

    codops: str
    environment: str
    platform: str
    python_version: str

    @property
    def label(self) -> str:
        return EnvironmentId(self.codops, self.environment).name

    def identity_json(self) -> dict:
        return {"codops": self.codops, "environment": self.environment, "platform": self.platform,
                "python_version": self.python_version}


@dataclass(frozen=True)
class Direct:
    """One entry of the environment's final requirement list."""

    name: str  # canonical
    requirement: str  # the final text
    specifier: str  # "" when bare (or unreadable)
    marker: str  # "" when there is none
    applies: bool  # whether its marker holds on the platform viewed
    provenance: Optional[Provenance]


class Analysis:
    """What one view's lock installs on its platform, with the direct requirements marked."""

    def __init__(self, view: EnvironmentView) -> None:
        self.view = view
        self.lock: Lock = parse_lock(view.lock_text)
        evaluate = evaluator(view.platform, view.python_version)
        self.installed: Dict[str, Installed] = closure(self.lock, evaluate)
        self.declared: Dict[str, Direct] = _directs(view, evaluate)
        # Direct on this platform: declared, its marker holds, and installed.
        self.direct_names: Tuple[str, ...] = tuple(
            sorted(n for n, d in self.declared.items() if d.applies and n in self.installed))
        parents: Dict[str, List[str]] = {name: [] for name in self.installed}
        for name, installed in self.installed.items():
            for child in installed.children:
                if child in parents:
                    parents[child].append(name)
        self.parents: Dict[str, Tuple[str, ...]] = {n: tuple(sorted(set(p))) for n, p in parents.items()}
        self._reach: Dict[str, frozenset] = {}

    def is_direct(self, name: str) -> bool:
        direct = self.declared.get(name)
        return direct is not None and direct.applies and name in self.installed

    def reach(self, name: str) -> frozenset:
        """Every package below `name` in the installed graph (`name` itself only through a cycle)."""
        if name not in self._reach:
            seen: set = set()
            stack = list(self.installed[name].children) if name in self.installed else []
            while stack:
                current = stack.pop()
                if current in seen or current not in self.installed:
                    continue
                seen.add(current)
                stack.extend(self.installed[current].children)
            self._reach[name] = frozenset(seen)
        return self._reach[name]

    def pulled_in_by(self, name: str) -> Tuple[str, ...]:
        """The direct requirements (other than `name`) whose dependency subtree holds `name`."""
        return tuple(d for d in self.direct_names if d != name and name in self.reach(d))

    def locked_versions(self, name: str) -> Tuple[str, ...]:
        return tuple(sorted({p.version for p in self.lock.packages if p.name == name and not p.is_root}))

    def locked_names(self) -> Tuple[str, ...]:
        return tuple(sorted({p.name for p in self.lock.packages if not p.is_root}))


def _directs(view: EnvironmentView, evaluate) -> Dict[str, Direct]:
    by_package: Dict[str, Provenance] = {p.package: p for p in view.provenance}
    found: Dict[str, Direct] = {}
    for text in view.requirements:
        try:
            req = parse_requirement(text)
            name, specifier, marker = req.key, req.specifier, req.marker
        except RequirementSyntaxError:
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
            name, specifier, marker = canonical_name(match.group(1) if match else text), "", ""
        provenance = by_package.get(name)
        applies = True
        if marker:
            try:
                applies = evaluate(marker)
            except Exception:  # an unreadable marker: say it applies rather than hide the entry
                applies = True
        found[name] = Direct(name, text, specifier, marker, applies, provenance)
    return found


def specifier_of(requirement: str) -> str:
    try:
        return parse_requirement(requirement).specifier
    except RequirementSyntaxError:
        return ""


def extras_of(requirement: str) -> Tuple[str, ...]:
    try:
        return parse_requirement(requirement).extras
    except RequirementSyntaxError:
        return ()


def candidate_order(declarations: Sequence[Declaration]) -> Tuple[Declaration, ...]:
    """Declarations in the order of the candidate list (§4): tier, then file order, then line."""
    unique = list(dict.fromkeys(declarations))

    def key(d: Declaration) -> tuple:
        tier = TIER_ORDER.index(d.tier) if d.tier in TIER_ORDER else len(TIER_ORDER)
        return (tier, d.source.sort_key, d.requirement)

    return tuple(sorted(unique, key=key))


def describe_declaration(d: Declaration) -> str:
    return f"`{d.requirement}` ({d.tier}, {d.source})"


def group_views(views: Sequence[EnvironmentView]) -> Mapping[Tuple[str, str, str], Tuple[EnvironmentView, ...]]:
    """Views per (codops, platform name, Python version), each group sorted by environment name."""
    groups: Dict[Tuple[str, str, str], List[EnvironmentView]] = {}
    for view in views:
        groups.setdefault((view.codops, view.platform.name, view.python_version), []).append(view)
    result = {}
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda v: v.environment)
        names = [v.environment for v in members]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two views of {key[0]}/{duplicates[0]} for {key[1]}, Python {key[2]}")
        result[key] = tuple(members)
    return result
