"""Requirement strings: parsing, PEP 503 names, and the per-environment resolution of semantics §4.

No Pants imports. `packaging` is the version Pants 2.17 ships (21.3).
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence, Tuple

from peach.config.errors import shorten
from peach.config.names import canonical_name

with warnings.catch_warnings():
    # packaging 21.3 (the version Pants ships) uses pyparsing APIs newer pyparsing deprecates.
    warnings.simplefilter("ignore", DeprecationWarning)
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

MAX_REQUIREMENT_LENGTH = 500


class Tier:
    """Where an entry of an environment's candidate list comes from, in list order (§4)."""

    INJECTED = "injected"
    BASE = "base"
    ENVIRONMENT = "environment"
    FRAMEWORK = "framework"


@dataclass(frozen=True)
class Req:
    """A parsed requirement: the text as written, and its parts."""

    text: str
    name: str
    key: str  # canonical name
    extras: Tuple[str, ...]
    specifier: str  # normalised by packaging, "" when bare
    marker: str  # "" when there is none

    @property
    def is_bare(self) -> bool:
        return not self.specifier

    def render(self, extras: Optional[Iterable[str]] = None) -> str:
        extras = tuple(sorted(set(self.extras if extras is None else extras)))
        text = self.name
        if extras:
            text += "[" + ",".join(extras) + "]"
        text += self.specifier
        if self.marker:
            text += f"; {self.marker}"
        return text


class RequirementSyntaxError(ValueError):
    """`what` says what is wrong; `valid` what a requirement may look like."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


VALID_REQUIREMENT = (
    "a PyPI or private-PyPI package name, optionally with extras, a version specifier and a "
    "marker: `orjson`, `orjson==3.10.0`, `numpy>=2`, `uvicorn[standard]==0.30.0`"
)


@functools.lru_cache(maxsize=65536)
def parse_requirement(text: str) -> Req:
    """Parse one dependency string; raises RequirementSyntaxError with the reason and the fix.

    Memoized: a large repository repeats the same strings in many files.
    """
    stripped = text.strip()
    if not stripped:
        raise RequirementSyntaxError("the dependency is an empty string", "delete the empty entry")
    if len(stripped) > MAX_REQUIREMENT_LENGTH:
        raise RequirementSyntaxError(
            f"the dependency is {len(stripped)} characters long (at most {MAX_REQUIREMENT_LENGTH})",
            "write a package name with an optional version specifier",
        )
    if stripped.startswith("-"):
        editable = re.match(r"^(-e|--editable)(\s|=|$)", stripped) is not None
        raise RequirementSyntaxError(
            "pip options (`-e`, `-r`, `--index-url`, ...) are not dependencies",
            "publish the package to the private index and depend on it by name, e.g. `mypkg==1.2.0`"
            if editable
            else "list a package name; indexes are configured by the platform, not per environment",
        )
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", stripped) or re.match(r"^(git|hg|svn|bzr)\+", stripped):
        raise RequirementSyntaxError(
            "URL requirements are not allowed",
            "publish the package to the private index and depend on it by name, e.g. `mypkg==1.2.0`",
        )
    if stripped.startswith((".", "/", "~")) or "\\" in stripped or stripped.endswith((".whl", ".tar.gz", ".zip")):
        raise RequirementSyntaxError(
            "path requirements are not allowed",
            "publish the package to the private index and depend on it by name, e.g. `mypkg==1.2.0`",
        )
    simple = _simple(stripped)
    if simple is not None:
        return simple
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = Requirement(stripped)
    except (InvalidRequirement, InvalidSpecifier) as e:  # packaging 21.3 lets the latter escape
        reason = shorten(str(e).split("\n")[0], 200)
        raise RequirementSyntaxError(
            f"not a valid PEP 508 requirement ({reason})",
            "write `name`, `name==1.2.3` or `name>=1,<2`",
        )
    # packaging 21.3 accepts non-PEP 440 ("legacy") specifiers that uv rejects; newer packaging refuses them.
    legacy = [str(spec) for spec in parsed.specifier if not isinstance(spec, Specifier)]
    if legacy:
        raise RequirementSyntaxError(
            f"`{shorten(legacy[0], 60)}` is not a PEP 440 version specifier",
            "use `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=` with a version such as `1.2.3`",
        )
    # Arbitrary equality (`===`) is PEP 440, but uv takes it only with a version: `===1.0`, not `===foo`.
    arbitrary = [spec for spec in parsed.specifier if spec.operator == "===" and not _is_version(spec.version)]
    if arbitrary:
        raise RequirementSyntaxError(
            f"`{shorten(str(arbitrary[0]), 60)}` compares with a string that is not a version, which uv rejects",
            "pin a version, `==1.2.3` (or `===1.2.3`)",
        )
    if parsed.marker is not None and _marker_operators(parsed.marker._markers) & {"==="}:
        raise RequirementSyntaxError(
            "the marker compares with `===`, which uv does not support in markers",
            "compare with `==`, e.g. `; python_version == '3.11'`",
        )
    if parsed.url:
        raise RequirementSyntaxError(
            "URL requirements (`name @ url`) are not allowed",
            f"publish the package to the private index and depend on it by name, e.g. `{parsed.name}==1.2.0`",
        )
    return Req(
        text=stripped,
        name=parsed.name,
        key=canonical_name(parsed.name),
        extras=tuple(sorted(parsed.extras)),
        specifier=str(parsed.specifier),
        marker=str(parsed.marker) if parsed.marker else "",
    )


# The common forms, `name` and `name<op>version[,<op>version...]` with plain release versions, are
# read without packaging 21.3's pyparsing grammar (about 0.5 ms a string). The result is what the
# grammar gives: the name as written, packaging's normalised specifier. Anything else, and anything
# `SpecifierSet` does not take as PEP 440, goes the full way (and gets its messages).
_SIMPLE_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SIMPLE_CLAUSE = r"(?:==|!=|>=|<=|~=|<|>)[ \t]*[0-9]+(?:\.[0-9]+)*"
_SIMPLE_RE = re.compile(rf"({_SIMPLE_NAME})[ \t]*({_SIMPLE_CLAUSE}(?:[ \t]*,[ \t]*{_SIMPLE_CLAUSE})*)?")


def _simple(text: str) -> Optional[Req]:
    match = _SIMPLE_RE.fullmatch(text)
    if match is None:
        return None
    name, spec = match.group(1), match.group(2) or ""
    if spec:
        try:
            specifier = SpecifierSet(spec)
        except InvalidSpecifier:
            return None
        if any(not isinstance(s, Specifier) for s in specifier):
            return None
        spec = str(specifier)
    return Req(text=text, name=name, key=canonical_name(name), extras=(), specifier=spec, marker="")


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _marker_operators(markers: object) -> set:
    """The comparison operators a parsed marker (packaging's nested lists of tuples) uses."""
    found: set = set()
    if isinstance(markers, (list, tuple)):
        if len(markers) == 3 and type(markers[1]).__name__ == "Op":
            found.add(str(markers[1].value))
        for item in markers:
            found |= _marker_operators(item)
    return found


@dataclass(frozen=True)
class Entry:
    """One candidate entry of an environment's requirement list, with where it came from."""

    req: Req
    tier: str
    source: str  # `file:line`, or the option it came from

    def describe(self) -> str:
        return f"`{self.req.text}` ({self.tier}, {self.source})"


@dataclass(frozen=True)
class Declaration:
    """One entry of an environment's candidate list, as declared."""

    requirement: str
    tier: str  # injected, base, environment or framework
    source: str  # `file:line`, or the option it came from


@dataclass(frozen=True)
class Provenance:
    """Where one entry of an environment's final list came from, and what it replaced."""

    requirement: str  # the final entry
    package: str  # its canonical name
    tier: str  # the tier of the entry that won
    source: str  # `file:line` (or option) of the entry that won
    replaced: Tuple[Declaration, ...] = ()  # earlier specified entries it replaced (last one wins)
    dropped_bare: Tuple[Declaration, ...] = ()  # bare entries dropped because a specified one exists
    extras_from: Tuple[Declaration, ...] = ()  # entries whose extras were merged in

    @property
    def declarations(self) -> Tuple[Declaration, ...]:
        """Every declaration of the package, the winning one included."""
        winner = Declaration(self.requirement, self.tier, self.source)
        return (winner, *self.replaced, *self.dropped_bare, *self.extras_from)

    def summary(self) -> str:
        line = f"{self.requirement} <- {self.tier} ({self.source})"
        notes = []
        for label, entries in (("replaced", self.replaced), ("dropped bare", self.dropped_bare),
                               ("extras from", self.extras_from)):
            if entries:
                notes.append(label + " " + ", ".join(f"`{d.requirement}` ({d.tier}, {d.source})" for d in entries))
        return line + ("; " + "; ".join(notes) if notes else "")


@dataclass(frozen=True)
class Resolved:
    """One entry of the final list: its text, the entry that won, and what it replaced."""

    text: str
    winner: Entry
    extras_from: Tuple[Entry, ...]  # entries whose extras were merged in (other than the winner)
    replaced: Tuple[Entry, ...]  # entries that lost to the winner (specified, earlier)
    dropped_bare: Tuple[Entry, ...]  # bare entries dropped because a specified one exists
    position_of: Entry  # the entry whose position the final entry keeps (first appearance)

    @property
    def key(self) -> str:
        return self.winner.req.key

    def provenance(self) -> Provenance:
        def declarations(entries: Sequence[Entry]) -> Tuple[Declaration, ...]:
            return tuple(Declaration(e.req.text, e.tier, e.source) for e in entries)

        return Provenance(
            requirement=self.text,
            package=self.key,
            tier=self.winner.tier,
            source=self.winner.source,
            replaced=declarations(self.replaced),
            dropped_bare=declarations(self.dropped_bare),
            extras_from=declarations(self.extras_from),
        )


def resolve(entries: Sequence[Entry]) -> Tuple[Resolved, ...]:
    """Semantics §4: de-duplicate per package, keeping each package's first position.

    - if any entry of a package carries a version specifier, its bare entries are dropped;
    - of what remains the last entry wins (specifier and marker);
    - extras are the union over every entry of the package.
    """
    order: list[str] = []
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.req.key not in groups:
            groups[entry.req.key] = []
            order.append(entry.req.key)
        groups[entry.req.key].append(entry)
    result = []
    for key in order:
        group = groups[key]
        specified = [e for e in group if not e.req.is_bare]
        remaining = specified if specified else group
        winner = remaining[-1]
        extras = sorted({x for e in group for x in e.req.extras})
        result.append(
            Resolved(
                text=winner.req.render(extras),
                winner=winner,
                extras_from=tuple(e for e in group if e is not winner and set(e.req.extras) - set(winner.req.extras)),
                replaced=tuple(e for e in remaining[:-1] if e.req.text != winner.req.text or e.tier != winner.tier),
                dropped_bare=tuple(e for e in group if specified and e.req.is_bare),
                position_of=group[0],
            )
        )
    return tuple(result)


def pin(resolved: Resolved, version: str, source: str) -> Resolved:
    """A bare final entry pinned to `version` (the private index's latest release)."""
    req = resolved.winner.req
    pinned = replace(req, specifier=f"=={version}", text=f"{req.name}=={version}")
    winner = Entry(pinned, resolved.winner.tier, source)
    extras = sorted({*req.extras, *(x for e in resolved.extras_from for x in e.req.extras)})
    return replace(resolved, winner=winner, text=pinned.render(extras))
