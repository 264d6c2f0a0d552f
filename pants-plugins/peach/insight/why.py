"""`why`: why a package is (or is not) in an environment, at which version, and through what.

No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from peach.config.errors import did_you_mean
from peach.config.names import canonical_name
from peach.config.requirements import Declaration, Provenance
from peach.insight.show import declaration_json
from peach.insight.sizes import UNKNOWN, exclusive, removal_saves, sizes_of
from peach.insight.view import (
    Analysis,
    EnvironmentResult,
    EnvironmentView,
    candidate_order,
    describe_declaration,
    extras_of,
    specifier_of,
)

MAX_PATHS = 50
# Paths are counted up to this many; past it the total is a lower bound (`paths_complete` False).
MAX_COUNTED_PATHS = 10_000
# Partial paths explored before giving up on counting (a graph with many diamonds).
MAX_EXPLORED = 200_000


@dataclass(frozen=True)
class WhyResult(EnvironmentResult):
    """The answer for one package in one environment on one platform.

    `present`: the platform installs it. `locked_versions`: the versions the lock holds for it (also
    when the platform does not install it). `declarations`: every entry of the candidate list for it,
    in candidate order (§4); `winner` the one that won. `reasons`: why, in words. `paths`: dependency
    chains from a direct requirement down to the package (shortest first, then alphabetical), at most
    MAX_PATHS of `paths_total` (a lower bound when `paths_complete` is False).

    Sizes (download sizes in bytes, from the lock's records; see `peach.insight.sizes`): `size` of
    the package's own file (`size_file`; UNKNOWN when not recorded), `exclusive` the package and the
    packages only it pulls in (every path to them passes through it) and `exclusive_size` theirs,
    `environment_size` the whole environment's; for a direct requirement, `removal_saves` what no
    longer declaring it would save (0 when `also_pulled_in_by` names others that pull it in).
    """

    query: str
    name: str
    present: bool
    version: str = ""
    direct: bool = False
    requirement: str = ""
    locked_versions: Tuple[str, ...] = ()
    declarations: Tuple[Declaration, ...] = ()
    winner: Optional[Declaration] = None
    reasons: Tuple[str, ...] = ()
    paths: Tuple[Tuple[str, ...], ...] = ()
    paths_total: int = 0
    paths_complete: bool = True
    did_you_mean: Optional[str] = None
    size: int = UNKNOWN
    size_file: str = ""
    exclusive: Tuple[str, ...] = ()
    exclusive_size: int = 0
    environment_size: int = 0
    removal_saves: int = 0
    also_pulled_in_by: Tuple[str, ...] = ()

    @property
    def more_paths(self) -> int:
        return self.paths_total - len(self.paths)

    def headline(self) -> str:
        if self.present:
            kind = "a direct requirement" if self.direct else "a transitive dependency"
            return f"{self.name} {self.version} is {kind} of {self.label}"
        if self.locked_versions:
            return (f"{self.name} is locked in {self.label} ({', '.join(self.locked_versions)}) "
                    f"but not installed on {self.platform}, Python {self.python_version}")
        if self.declarations:
            return f"{self.name} is declared for {self.label} but not installed on {self.platform}"
        line = f"{self.query} is not in {self.label}"
        return line + (f"; did you mean {self.did_you_mean}?" if self.did_you_mean else "")

    def as_json(self) -> dict:
        return {
            **self.identity_json(),
            "query": self.query,
            "name": self.name,
            "present": self.present,
            "version": self.version or None,
            "direct": self.direct,
            "requirement": self.requirement or None,
            "locked_versions": list(self.locked_versions),
            "declarations": [dict(declaration_json(d), won=d == self.winner) for d in self.declarations],
            "reasons": list(self.reasons),
            "paths": [list(p) for p in self.paths],
            "paths_total": self.paths_total,
            "paths_complete": self.paths_complete,
            "did_you_mean": self.did_you_mean,
            "size": self.size if self.size != UNKNOWN else None,
            "size_file": self.size_file or None,
            "exclusive": list(self.exclusive),
            "exclusive_size": self.exclusive_size,
            "environment_size": self.environment_size,
            "removal_saves": self.removal_saves if self.direct else None,
            "message": self.headline(),
        }


def why(view: EnvironmentView, package_name: str) -> WhyResult:
    analysis = Analysis(view)
    name = canonical_name(package_name.strip())
    base = dict(codops=view.codops, environment=view.environment, platform=view.platform.name,
                python_version=view.python_version, query=package_name.strip(), name=name)
    present = name in analysis.installed
    locked = analysis.locked_versions(name)
    declared = analysis.declared.get(name)
    if not present and not locked and declared is None:
        suggestion = did_you_mean(name, analysis.locked_names())
        return WhyResult(present=False, did_you_mean=suggestion, **base)

    reasons: List[str] = []
    declarations: Tuple[Declaration, ...] = ()
    winner = None
    if declared is not None and declared.provenance is not None:
        winner = _winner(declared.provenance)
        declarations = candidate_order(declared.provenance.declarations)
        reasons.extend(resolution_reasons(declared.provenance))
    elif declared is not None:
        reasons.append(f"the final requirement list has `{declared.requirement}` (its provenance is not recorded)")
    if declared is not None and not declared.applies:
        reasons.append(f"its marker `{declared.marker}` does not hold on {view.platform.name}, "
                       f"Python {view.python_version}, so it is not a direct requirement there")

    direct = analysis.is_direct(name)
    paths: Tuple[Tuple[str, ...], ...] = ()
    total, complete = 0, True
    if present:
        via = analysis.pulled_in_by(name)
        if not direct:
            if declared is None:
                reasons.append("no config declares it; it comes in through "
                               + (", ".join(via) if via else "no direct requirement (is the lock stale?)"))
            else:
                reasons.append("it comes in through " + (", ".join(via) if via else "no direct requirement"))
        elif via:
            reasons.append("it is also a dependency of " + ", ".join(via))
        paths, total, complete = dependency_paths(analysis, name)
        base.update(_sizes(analysis, name, direct))
    elif locked:
        reasons.append(_not_installed_reason(analysis, name))
    return WhyResult(
        present=present,
        version=analysis.installed[name].version if present else "",
        direct=direct,
        requirement=declared.requirement if declared is not None else "",
        locked_versions=locked,
        declarations=declarations,
        winner=winner,
        reasons=tuple(reasons),
        paths=paths,
        paths_total=total,
        paths_complete=complete,
        **base,
    )


def _sizes(analysis: Analysis, name: str, direct: bool) -> dict:
    sizes = sizes_of(analysis.lock, analysis.installed, analysis.view.platform, analysis.view.python_version)
    own = next(p for p in sizes.packages if p.name == name)
    group = exclusive(analysis.installed, analysis.direct_names, name)
    saved = removal_saves(analysis.installed, analysis.direct_names, name) if direct else frozenset()
    return dict(size=own.size, size_file=own.file, exclusive=tuple(sorted(group)), exclusive_size=sizes.sum(group),
                environment_size=sizes.total, removal_saves=sizes.sum(saved),
                also_pulled_in_by=analysis.pulled_in_by(name) if direct else ())


def _winner(provenance: Provenance) -> Declaration:
    return Declaration(provenance.requirement, provenance.tier, provenance.source)


def _places(declarations: Sequence[Declaration]) -> str:
    items = [f"`{d.tier}` ({d.source})" for d in candidate_order(declarations)]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def resolution_reasons(provenance: Provenance) -> Tuple[str, ...]:
    """Why the final entry is what it is, in the words of semantics §4."""
    winner = _winner(provenance)
    reasons = []
    others = [d for d in provenance.declarations if d != winner]
    if not others:
        reasons.append(f"declared once: {describe_declaration(winner)}")
    if provenance.replaced:
        if specifier_of(provenance.requirement):
            rule = "the last specified entry wins"
        else:
            rule = "no entry specifies a version, so the last entry wins"
        reasons.append(f"{rule}: `{winner.tier}` ({winner.source}) comes after {_places(provenance.replaced)}")
    if provenance.dropped_bare:
        dropped = ", ".join(describe_declaration(d) for d in candidate_order(provenance.dropped_bare))
        reasons.append(f"bare entries are dropped when a version is specified: {dropped}")
        if not provenance.replaced:
            reasons.append(f"the specified entry wins: {describe_declaration(winner)}")
    if provenance.extras_from:
        parts = []
        for d in candidate_order(provenance.extras_from):
            extras = extras_of(d.requirement)
            parts.append(f"[{','.join(extras)}] from {describe_declaration(d)}" if extras else describe_declaration(d))
        reasons.append("extras are merged from every entry: " + "; ".join(parts))
    if others:
        reasons.append(f"result: `{provenance.requirement}`")
    return tuple(reasons)


def _not_installed_reason(analysis: Analysis, name: str) -> str:
    """Why a locked package is not installed on the platform viewed: the markers that leave it out."""
    edges = []
    for package in analysis.lock.packages:
        groups = [("", package.dependencies)] + [(extra, deps) for extra, deps in package.optional]
        for extra, deps in groups:
            for dep in deps:
                if dep.name != name:
                    continue
                who = "the project" if package.is_root else package.name + (f"[{extra}]" if extra else "")
                installed = package.is_root or package.name in analysis.installed
                when = f"when `{dep.marker}`" if dep.marker else "on every platform"
                edges.append(f"{who} needs it {when}" + ("" if installed else f" ({package.name} is not installed)"))
    if not edges:
        return "nothing in the lock depends on it"
    return "no dependency on it applies to this platform: " + "; ".join(sorted(set(edges)))


def dependency_paths(analysis: Analysis, name: str,
                     limit: int = MAX_PATHS) -> Tuple[Tuple[Tuple[str, ...], ...], int, bool]:
    """Every simple dependency chain from a direct requirement down to `name`.

    Walks the installed graph upwards from `name`, one length at a time, so the chains come shortest
    first (alphabetical within one length); a package never appears twice in a chain, so cycles end.
    Returns at most `limit` chains, how many were counted, and whether counting finished.
    """
    direct = set(analysis.direct_names)
    found: List[Tuple[str, ...]] = []
    total, explored, complete = 0, 0, True
    frontier: List[Tuple[str, ...]] = [(name,)]
    while frontier and complete:
        level: List[Tuple[str, ...]] = []
        following: Dict[Tuple[str, ...], None] = {}
        for partial in frontier:
            head = partial[0]
            if head in direct:
                level.append(partial)
            for parent in analysis.parents.get(head, ()):
                if parent not in partial:
                    following[(parent,) + partial] = None
                    explored += 1
            if explored > MAX_EXPLORED:
                complete = False
                break
        for path in sorted(level):
            total += 1
            if len(found) < limit:
                found.append(path)
        if total >= MAX_COUNTED_PATHS:
            complete = False
        frontier = sorted(following)
    return tuple(found), total, complete
