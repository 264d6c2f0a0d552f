"""Typed values that read as text: enums whose text is their value, and where an entry was declared.

No Pants imports. Each is a `str`, so JSON and text outputs, comparisons with plain strings and
Pants field values are those of the text; code reads their parts instead of parsing the text.
"""
from __future__ import annotations

from enum import Enum
from typing import Tuple


class TextEnum(str, Enum):
    """An enum whose members are their value: `str()`, f-strings and `json.dumps` give the value."""

    def __str__(self) -> str:
        return str(self.value)


class Source(str):
    """Where an entry was declared: `path:line` (a config or requirements file, lines from 1), or
    the name of the option it came from (`line` 0), e.g. `[peach].injected_requirements`."""

    path: str
    line: int

    def __new__(cls, path: str, line: int = 0) -> "Source":
        text = super().__new__(cls, f"{path}:{line}" if line else path)
        text.path = path
        text.line = line
        return text

    def __getnewargs__(self) -> Tuple[str, int]:  # copies and pickles keep the parts
        return (self.path, self.line)

    @property
    def sort_key(self) -> Tuple[str, int]:
        """(path, line): a file's entries in line order (10 after 9), options as (name, 0)."""
        return (self.path, self.line)
