"""User-facing errors of the peach configs: where, which key, what is wrong, what is valid, the fix.

No Pants imports: this module is shared by the config model and the Pants rules.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence


def shorten(text: str, limit: int = 80) -> str:
    """A user value as it appears in a message: one line, at most `limit` characters."""
    if len(text) <= limit and _CONTROL.search(text) is None:
        return text  # the common case, on every key read: nothing to escape or cut
    one_line = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    # other control characters (NUL, ESC of terminal escape sequences, ...) are shown escaped
    one_line = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", one_line)
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[: limit - 1]}… ({len(text)} characters)"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> Optional[str]:
    """The closest candidate to `word`, if one is close enough to be a likely typo."""
    candidates = sorted(set(candidates))
    folded = _fold(word)
    for candidate in candidates:
        if _fold(candidate) == folded and candidate != word:
            return candidate
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=cutoff)
    if matches:
        return matches[0]
    matches = difflib.get_close_matches(folded, [_fold(c) for c in candidates], n=1, cutoff=cutoff)
    if matches:
        return next(c for c in candidates if _fold(c) == matches[0])
    return None


def _fold(word: str) -> str:
    return word.lower().replace("-", "").replace("_", "").replace(".", "")


def quote_list(items: Sequence[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) if items else "(none)"


@dataclass(frozen=True)
class Problem:
    """One problem in one config file.

    `path` is repo-relative; `line` is 1-based (0 when the problem concerns the whole file);
    `key` is the dotted key path (`endpoints.recommend.py_env`), empty for the file itself.
    """

    path: str
    line: int
    key: str
    what: str
    valid: str = ""
    fix: str = ""
    column: int = 0
    # Listed before every other problem: a file that does not parse at all.
    first: bool = False

    @property
    def location(self) -> str:
        if self.line <= 0:
            return self.path
        if self.column > 0:
            return f"{self.path}:{self.line}:{self.column}"
        return f"{self.path}:{self.line}"

    def render(self) -> str:
        head = f"{self.location}: "
        head += f"`{self.key}`: {self.what}" if self.key else self.what
        lines = [head]
        if self.valid:
            lines.append(f"  valid: {self.valid}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def sort_key(self) -> tuple:
        return (not self.first, self.path, self.line, self.column, self.key, self.what)


class ConfigError(Exception):
    """Every problem found in the peach configs of one run, reported together."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        unique = sorted(set(problems), key=Problem.sort_key)
        self.problems: tuple[Problem, ...] = tuple(unique)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n\n".join(problem.render() for problem in self.problems)
        return f"{count} {noun} in the peach configs:\n\n{body}"

    def __str__(self) -> str:
        return self.render()


class ProblemCollector:
    """Collects problems while a config is read, so one run reports all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


class PackagingError(Exception):
    """A packaging failure (index, lock, audit): the message says which environment, what and the fix."""
