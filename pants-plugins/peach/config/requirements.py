"""Requirement strings: parsing, PEP 503 names, and the per-environment resolution of semantics §4.

No Pants imports. Dependency strings are parsed with the grammar of a current `packaging`
(vendored in peach.vendor.pep508): the `packaging` Pants 2.17 ships (21.3) disagrees with current
tools on some strings. Its `Version` and `SpecifierSet` (which agree on PEP 440 versions) serve
the fast path and the `===` check.
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

from peach.config.errors import shorten
from peach.config.names import canonical_name
from peach.config.typed import Source, TextEnum

from peach.vendor import pep508
from peach.vendor.pep508._specifier import SPECIFIER_REGEX_STR

with warnings.catch_warnings():
    # packaging 21.3 (the version Pants ships) uses pyparsing APIs newer pyparsing deprecates.
    warnings.simplefilter("ignore", DeprecationWarning)
    from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

_SPECIFIER_RE = re.compile(SPECIFIER_REGEX_STR, re.VERBOSE | re.IGNORECASE)
_PEP508_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")

MAX_REQUIREMENT_LENGTH = 500


class Tier(TextEnum):
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
        """The requirement in peach's spelling, with `extras` (sorted, once each) instead of its own if given."""
        return render_requirement(self.name, sorted(set(self.extras if extras is None else extras)),
                                  self.specifier, self.marker)

    def pinned(self, version: str) -> str:
        """The requirement pinned to `version` (`==<version>`), with its extras and marker."""
        return render_requirement(self.name, sorted(set(self.extras)), f"=={version}", self.marker)


# How uv spells the separator before a marker in the requirements it writes (a lock's
# `requires-dist`, `uv pip compile` output): what peach reads from a lock or writes for uv keeps
# it, so lock-changes.json and the dependency metadata of pyproject.toml read as uv's own files.
UV_MARKER_SEPARATOR = " ; "


def render_requirement(
    name: str, extras: Iterable[str] = (), specifier: str = "", marker: str = "", marker_separator: str = "; "
) -> str:
    """The one renderer of a requirement: `name[extras]specifier; marker`, the extras in the order given.

    peach's own lists (environments' requirements, `environments.json`) use `; `; what comes from
    or goes to uv passes `UV_MARKER_SEPARATOR`.
    """
    extras = tuple(extras)
    return (name + (f"[{','.join(extras)}]" if extras else "") + specifier
            + (f"{marker_separator}{marker}" if marker else ""))


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
    _reject_unsupported(stripped)
    simple = _simple(stripped)
    if simple is not None:
        return simple
    try:
        parsed = pep508.parse_requirement(stripped)
    except pep508.ParserSyntaxError as e:
        raise _syntax_error(e) from None
    if parsed.url:
        raise RequirementSyntaxError(
            "URL requirements (`name @ url`) are not allowed",
            f"publish the package to the private index and depend on it by name, e.g. `{parsed.name}==1.2.0`",
        )
    # PEP 508 names and extras end with a letter or digit; packaging's tokenizer also takes `a_` (uv does not).
    for what, name in (("package name", parsed.name), *(("extra", x) for x in parsed.extras)):
        if not _PEP508_NAME.fullmatch(name):
            raise RequirementSyntaxError(
                f"`{shorten(name, 60)}` is not a valid {what}: PEP 508 names start and end with a letter or digit",
                "write the name as the package's index page shows it, e.g. `scikit-learn`",
            )
    # As packaging's `SpecifierSet` does: the clauses are what lies between commas (an `===` clause
    # of the grammar runs to the next blank, so it may hold several).
    clauses = [c.strip() for c in parsed.specifier.split(",")] if parsed.specifier else []
    for clause in clauses:
        if not _SPECIFIER_RE.fullmatch(clause):
            raise RequirementSyntaxError(
                f"`{shorten(clause, 60)}` is not a PEP 440 version specifier",
                "use `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=` with a version such as `1.2.3`",
            )
    # Arbitrary equality (`===`) is PEP 440, but uv takes it only with a version: `===1.0`, not `===foo`.
    arbitrary = [c for c in clauses if c.startswith("===") and not _is_version(c[3:].strip())]
    if arbitrary:
        raise RequirementSyntaxError(
            f"`{shorten(arbitrary[0], 60)}` compares with a string that is not a version, which uv rejects "
            "(a current `packaging` takes it): peach does not support it",
            "pin a version, `==1.2.3` (or `===1.2.3`)",
        )
    if parsed.marker is not None and "===" in _marker_operators(parsed.marker):
        raise RequirementSyntaxError(
            "the marker compares with `===`, which uv rejects in markers (a current `packaging` takes it): "
            "peach does not support it",
            "compare with `==`, e.g. `; python_version == '3.11'`",
        )
    return Req(
        text=stripped,
        name=parsed.name,
        key=canonical_name(parsed.name),
        extras=tuple(sorted(set(parsed.extras))),
        specifier=render_specifier(clauses),
        marker=render_marker(parsed.marker) if parsed.marker else "",
    )


def _reject_unsupported(stripped: str) -> None:
    """What peach refuses before parsing: overlong strings, pip options, URLs, paths, backslashes in markers."""
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
    head, semicolon, marker = stripped.partition(";")
    if semicolon and "\\" in marker and "\\" not in head:
        raise RequirementSyntaxError(
            "the marker holds a backslash: peach does not support it, because a current `packaging` reads "
            "`\\` in a quoted string as a Python escape (PEP 508 does not define escapes) and uv reads it as it is, "
            "so the two disagree on the value",
            "compare with a value without backslashes",
        )
    if stripped.startswith((".", "/", "~")) or "\\" in stripped or stripped.endswith((".whl", ".tar.gz", ".zip")):
        raise RequirementSyntaxError(
            "path requirements are not allowed",
            "publish the package to the private index and depend on it by name, e.g. `mypkg==1.2.0`",
        )


def _syntax_error(e: "pep508.ParserSyntaxError") -> RequirementSyntaxError:
    """packaging's reason, where in the string, and for a version that is not PEP 440 (`==latest`,
    `>>2`) the message of that case."""
    start = e.span[0]
    if e.message.startswith("Expected"):
        # The specifier's clauses from where the error is, up to the marker: the first that is
        # not PEP 440 is what is wrong.
        region = e.source[start:].split(";", 1)[0].strip().lstrip("(").rstrip(")")
        for clause in (c.strip() for c in region.split(",")):
            if re.match(r"(===|==|!=|<=|>=|~=|<|>|=)", clause) and not _SPECIFIER_RE.fullmatch(clause):
                return RequirementSyntaxError(
                    f"`{shorten(clause, 60)}` is not a PEP 440 version specifier",
                    "use `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=` with a version such as `1.2.3`",
                )
    where = f"at `{shorten(e.source[start:], 40)}`" if start < len(e.source) else "at the end"
    return RequirementSyntaxError(
        f"not a valid PEP 508 requirement ({shorten(e.message, 160)}, {where})",
        "write `name`, `name==1.2.3` or `name>=1,<2`",
    )


def render_specifier(clauses: Sequence[str]) -> str:
    """The clauses without blanks (`>= 1` is `>=1`), sorted and de-duplicated as packaging's
    `str(SpecifierSet)` does: a specifier set is a set, so neither changes its meaning."""
    return ",".join(sorted({re.sub(r"\s+", "", c) for c in clauses}))


def render_marker(marker: "pep508.MarkerList", first: bool = True) -> str:
    """A parsed marker as a current `packaging` writes it (`str(Marker)`): its variables, operators
    and values as parsed, each value quoted with a quote character it does not contain, the
    parentheses the grouping needs."""
    if isinstance(marker, list) and len(marker) == 1 and isinstance(marker[0], (list, tuple)):
        return render_marker(marker[0], first)
    if isinstance(marker, list):
        inner = " ".join(render_marker(m, False) for m in marker)
        return inner if first else f"({inner})"
    if isinstance(marker, tuple):
        return " ".join(m.serialize() for m in marker)
    return marker


# The common forms, `name` and `name<op>version[,<op>version...]` with plain release versions, are
# read without the full grammar. The result is what the grammar gives: the name as written, the
# normalised specifier (21.3's `SpecifierSet` and a current one agree on plain release versions). Anything else, and anything
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


def _marker_operators(marker: object) -> set:
    """The comparison operators a parsed marker uses."""
    if isinstance(marker, pep508.Op):
        return {marker.value}
    if isinstance(marker, (list, tuple)):
        return set().union(*(_marker_operators(m) for m in marker))
    return set()


@dataclass(frozen=True)
class Entry:
    """One candidate entry of an environment's requirement list, with where it came from."""

    req: Req
    tier: Tier
    source: Source

    def describe(self) -> str:
        return f"`{self.req.text}` ({self.tier}, {self.source})"


@dataclass(frozen=True)
class Declaration:
    """One entry of an environment's candidate list, as declared."""

    requirement: str
    tier: Tier
    source: Source


@dataclass(frozen=True)
class Provenance:
    """Where one entry of an environment's final list came from, and what it replaced."""

    requirement: str  # the final entry
    package: str  # its canonical name
    tier: Tier  # the tier of the entry that won
    source: Source  # of the entry that won
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
            )
        )
    return tuple(result)
