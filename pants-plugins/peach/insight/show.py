"""`show`: every package an environment's lock installs on one platform, direct or transitive.

No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Tuple

from peach.config.requirements import Declaration
from peach.insight.sizes import UNKNOWN, sizes_of
from peach.insight.view import Analysis, EnvironmentResult, EnvironmentView

SORT_KEYS = ("name", "size")


@dataclass(frozen=True)
class ShowRow:
    """One installed package.

    Direct packages (the environment's final requirement list names them and their marker holds on
    the platform) carry the final `requirement`, the `tier` and `source` (`file:line`, or the option)
    of the entry that won, and what it `replaced` (earlier specified entries), the bare entries it
    made drop (`dropped_bare`) and the entries whose extras were merged in (`extras_from`).
    Transitive packages carry `pulled_in_by`: the sorted names of the direct requirements whose
    dependency subtree holds the package; their other fields are empty. Every row carries `size`:
    the download size in bytes of the file the platform installs (`size_file`), UNKNOWN when the
    lock records none.
    """

    name: str
    version: str
    direct: bool
    requirement: str = ""
    tier: str = ""
    source: str = ""
    replaced: Tuple[Declaration, ...] = ()
    dropped_bare: Tuple[Declaration, ...] = ()
    extras_from: Tuple[Declaration, ...] = ()
    pulled_in_by: Tuple[str, ...] = ()
    size: int = UNKNOWN
    size_file: str = ""

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "direct": self.direct,
            "requirement": self.requirement or None,
            "tier": self.tier or None,
            "source": self.source or None,
            "replaced": [declaration_json(d) for d in self.replaced],
            "dropped_bare": [declaration_json(d) for d in self.dropped_bare],
            "extras_from": [declaration_json(d) for d in self.extras_from],
            "pulled_in_by": list(self.pulled_in_by),
            "size": self.size if self.size != UNKNOWN else None,
            "size_file": self.size_file or None,
        }


@dataclass(frozen=True)
class ShowResult(EnvironmentResult):
    """What one environment installs on one platform: `rows` sorted by name.

    `not_installed` lists the locked (name, version) pairs the platform does not install (their
    markers exclude it), so that nothing of the lock goes unmentioned. `size` is the download size
    of every row whose size the lock records (`unknown_size` names the others).
    """

    rows: Tuple[ShowRow, ...]
    not_installed: Tuple[Tuple[str, str], ...] = ()
    size: int = 0
    unknown_size: Tuple[str, ...] = ()

    @property
    def direct_count(self) -> int:
        return sum(1 for row in self.rows if row.direct)

    @property
    def transitive_count(self) -> int:
        return len(self.rows) - self.direct_count

    def headline(self) -> str:
        return (f"{self.label}: {len(self.rows)} packages "
                f"({self.direct_count} direct, {self.transitive_count} transitive)")

    def sorted_by(self, key: str) -> "ShowResult":
        """The rows by name (as computed), or by `size`: largest first, unknown sizes last, then by name."""
        if key == "size":
            return replace(self, rows=tuple(sorted(self.rows, key=lambda r: (-r.size, r.name))))
        return self

    def as_json(self) -> dict:
        return {
            **self.identity_json(),
            "packages": [row.as_json() for row in self.rows],
            "not_installed": [{"name": n, "version": v} for n, v in self.not_installed],
            "size": {"kind": "download", "bytes": self.size, "unknown": list(self.unknown_size)},
        }


def declaration_json(d: Declaration) -> dict:
    return {"requirement": d.requirement, "tier": d.tier, "source": d.source}


def show(view: EnvironmentView) -> ShowResult:
    analysis = Analysis(view)
    sizes = {p.name: p for p in sizes_of(analysis.lock, analysis.installed, view.platform,
                                         view.python_version).packages}
    rows = []
    for name in sorted(analysis.installed):
        version = analysis.installed[name].version
        size = dict(size=sizes[name].size, size_file=sizes[name].file)
        if analysis.is_direct(name):
            direct = analysis.declared[name]
            prov = direct.provenance
            rows.append(ShowRow(
                name=name,
                version=version,
                direct=True,
                requirement=direct.requirement,
                tier=prov.tier if prov else "",
                source=prov.source if prov else "",
                replaced=prov.replaced if prov else (),
                dropped_bare=prov.dropped_bare if prov else (),
                extras_from=prov.extras_from if prov else (),
                **size,
            ))
        else:
            rows.append(ShowRow(name=name, version=version, direct=False, pulled_in_by=analysis.pulled_in_by(name),
                                **size))
    not_installed = tuple(sorted({(p.name, p.version) for p in analysis.lock.packages
                                  if not p.is_root and p.name not in analysis.installed}))
    return ShowResult(view.codops, view.environment, view.platform.name, view.python_version, tuple(rows),
                      not_installed, sum(r.size for r in rows if r.size != UNKNOWN),
                      tuple(r.name for r in rows if r.size == UNKNOWN))
