"""Text and JSON renderings of `show`, `why` and `drift`.

Text: one block per environment (or codops), aligned columns, no trailing spaces, a final newline.
JSON: keys in a fixed order (never sorted alphabetically), two-space indent, a final newline.
No Pants imports.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

from peach.insight.drift import DriftResult
from peach.insight.sizes import UNKNOWN, format_size, share
from peach.insight.show import ShowResult, ShowRow
from peach.insight.why import WhyResult

INDENT = "  "
MAX_VIA = 6  # transitive rows name at most this many direct requirements in text (all in JSON)


@dataclass(frozen=True)
class Note:
    """A line under a table row, starting at the row's last column."""

    text: str


Row = Union[Tuple[str, ...], Note]


def table(headers: Sequence[str], rows: Sequence[Row], indent: str = INDENT) -> List[str]:
    """Aligned columns under a header and a rule; the last column is not padded."""
    cells = [tuple(headers)] + [r for r in rows if not isinstance(r, Note)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        return (indent + "  ".join(padded)).rstrip()

    last_column = sum(w + 2 for w in widths[:-1])
    lines = [line(headers), line(["-" * w for w in widths[:-1]] + ["-" * max(len(headers[-1]), 1)])]
    for row in rows:
        lines.append((indent + " " * last_column + row.text).rstrip() if isinstance(row, Note) else line(row))
    return lines


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _list(items: Sequence[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- show ------------------------------------------------------------------------------------


def _show_rows(row: ShowRow) -> List[Row]:
    size = format_size(row.size)
    if not row.direct:
        via = "via " + _list(row.pulled_in_by, MAX_VIA) if row.pulled_in_by else "not reached from a direct requirement"
        return [(row.name, row.version, size, "transitive", via)]
    where = f"  ({row.tier}, {row.source})" if row.tier or row.source else ""
    lines: List[Row] = [(row.name, row.version, size, "direct", row.requirement + where)]
    for label, declarations in (("replaced", row.replaced), ("dropped bare", row.dropped_bare),
                                ("extras from", row.extras_from)):
        for d in declarations:
            lines.append(Note(f"  {label} {d.requirement}  ({d.tier}, {d.source})"))
    return lines


def render_show_text(results: Sequence[ShowResult]) -> str:
    blocks = []
    for result in results:
        lines = [result.headline(), f"{INDENT}platform: {result.platform}, Python {result.python_version}",
                 f"{INDENT}size: {format_size(result.size)} ({result.size:,} bytes, download size of the files "
                 "the lock records)" + _unknown(result.unknown_size)]
        rows: List[Row] = [line for row in result.rows for line in _show_rows(row)]
        if rows:
            lines += table(("package", "version", "size", "kind", "from"), rows)
        if result.not_installed:
            shown = [f"{n} {v}" for n, v in result.not_installed]
            lines.append(f"{INDENT}locked but not installed on this platform: {_list(shown, 12)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _unknown(names: Sequence[str]) -> str:
    if not names:
        return ""
    return f"; no size recorded for {_list(list(names), 6)}"


def render_show_json(results: Sequence[ShowResult]) -> str:
    """A list with one object per environment; each holds its `packages` rows."""
    return _dump([r.as_json() for r in results])


# --- why -------------------------------------------------------------------------------------


def _why_lines(result: WhyResult) -> List[str]:
    lines = [result.headline()]
    if not (result.present or result.locked_versions or result.declarations):
        return lines
    lines.append(f"{INDENT}platform: {result.platform}, Python {result.python_version}")
    if result.requirement:
        lines.append(f"{INDENT}requirement: {result.requirement}")
    if result.present:
        lines += _why_size_lines(result)
    if result.declarations:
        lines.append(f"{INDENT}declared:")
        rows = [(d.requirement, d.tier, d.source + ("  <- wins" if d == result.winner else ""))
                for d in result.declarations]
        lines += table(("requirement", "tier", "source"), rows, indent=INDENT * 2)
    if result.reasons:
        lines.append(f"{INDENT}why:")
        lines += [f"{INDENT * 2}- {reason}" for reason in result.reasons]
    if result.paths:
        lines.append(f"{INDENT}dependency paths ({result.paths_total}{'' if result.paths_complete else '+'}):")
        lines += [INDENT * 2 + " -> ".join(path) for path in result.paths]
        if result.more_paths > 0 or not result.paths_complete:
            more = f"{result.more_paths} more" if result.paths_complete else f"at least {result.more_paths} more"
            lines.append(f"{INDENT * 2}... and {more}")
    return lines


def _why_size_lines(result: WhyResult) -> List[str]:
    total = result.environment_size
    own = (f"{format_size(result.size)} ({result.size_file}, download size)" if result.size != UNKNOWN
           else "not recorded in the lock")
    lines = [f"{INDENT}size: {own}"]
    others = len(result.exclusive) - 1
    count = "no other package" if others == 0 else f"{others} more package{'' if others == 1 else 's'}"
    lines.append(f"{INDENT}with what only it pulls in ({count}): "
                 f"{format_size(result.exclusive_size)}, {share(result.exclusive_size, total):.1f}% of "
                 f"{result.label}'s {format_size(total)}")
    if result.direct:
        if not result.also_pulled_in_by:
            lines.append(f"{INDENT}removing its declaration would save {format_size(result.removal_saves)} "
                         f"({share(result.removal_saves, total):.1f}%)")
        else:
            lines.append(f"{INDENT}removing its declaration would save nothing: "
                         f"{_list(list(result.also_pulled_in_by), MAX_VIA)} pull(s) it in too")
    return lines


def render_why_text(results: Sequence[WhyResult]) -> str:
    return "\n\n".join("\n".join(_why_lines(r)) for r in results) + "\n"


def render_why_json(results: Sequence[WhyResult]) -> str:
    return _dump([r.as_json() for r in results])


# --- drift -----------------------------------------------------------------------------------


def render_drift_text(result: DriftResult) -> str:
    blocks = []
    for codops in result.codops:
        lines = [codops.headline()]
        if codops.packages:
            rows = []
            for package in codops.packages:
                versions = dict(package.versions)
                rows.append((package.name, *(versions.get(env, "-") for env in codops.environments),
                             package.status, package.reason))
            lines += table(("package", *codops.environments, "status", "why"), rows)
        blocks.append("\n".join(lines))
    if not blocks:
        return "no environments to compare\n"
    return "\n\n".join(blocks) + "\n"


def render_drift_json(result: DriftResult) -> str:
    return _dump(result.as_json())
