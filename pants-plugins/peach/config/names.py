"""Package names and URLs as peach compares and shows them: the one place for both.

No Pants imports.
"""
from __future__ import annotations

import fnmatch
import re
import urllib.parse
from typing import Iterable, Tuple

from packaging.utils import canonicalize_name


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `Pipe.Algorithms_Lib` -> `pipe-algorithms-lib`."""
    return str(canonicalize_name(name))


def canonical_pattern(pattern: str) -> str:
    """A package name or shell-style pattern (`pipe_*`) normalised like a name (`pipe-*`)."""
    return re.sub(r"[-_.]+", "-", pattern).lower()


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    """Whether the package `name` matches one of the names or patterns (after normalisation)."""
    key = canonical_name(name)
    return any(fnmatch.fnmatchcase(key, canonical_pattern(p)) for p in patterns)


def exact_names(patterns: Iterable[str]) -> Tuple[str, ...]:
    """The entries of a names-or-patterns list that are names, normalised and sorted."""
    return tuple(sorted({canonical_name(p) for p in patterns if not any(c in p for c in "*?[")}))


def redact_url(url: str) -> str:
    """The URL without a `user:password@` part, so that it can be shown and logged."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", url)
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def url_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, without credentials."""
    parts = urllib.parse.urlsplit(redact_url(url))
    return f"{parts.scheme}://{parts.netloc}"
