"""What a user reads when uv finds no solution for an environment: plain Python, no Pants imports.

uv explains an unsatisfiable resolution in terms of packages and "your project". peach knows, for
each package of the environment's final list, every config declaration behind it (`Provenance`:
`file:line`, tier, what it replaced). The message joins the two: the environment, each declaration
of the packages uv names, uv's explanation (its own words, shortened), and what to change where.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Sequence, Set

from peach.config.requirements import Declaration, Provenance, Tier

MAX_EXPLANATION_LINES = 8

# uv prints the resolver's verdict as "× No solution found ...:\n  ╰─▶ Because ..." on a terminal and
# "error: No solution found ...\n  cause: Because ..." otherwise.
_NO_SOLUTION = re.compile(r"No solution found when resolving dependencies[^\n]*\n", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?:[╰─▶×]+\s*|cause:\s*|hint:\s*)*")


def is_resolution_failure(stderr: str) -> bool:
    return bool(_NO_SOLUTION.search(stderr))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def explanation(stderr: str) -> List[str]:
    """uv's explanation of why no solution exists, without its decoration, at most a few lines."""
    match = _NO_SOLUTION.search(stderr)
    text = stderr[match.end():] if match else stderr
    lines = [_PREFIX.sub("", line).rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    if len(lines) > MAX_EXPLANATION_LINES:
        lines = lines[:MAX_EXPLANATION_LINES - 1] + [f"... ({len(lines) - MAX_EXPLANATION_LINES + 1} more lines of uv's)"]
    return lines


def named_packages(text: str, packages: Iterable[str]) -> List[str]:
    """The packages of `packages` (canonical names) that uv's text names, in the order of `packages`."""
    tokens: Set[str] = {canonical(t) for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)}
    return [p for p in packages if p in tokens]


def _shown(d: Declaration) -> str:
    return f"`{d.requirement}` ({d.tier}, {d.source})"


def _advice(p: Provenance) -> List[str]:
    """What to change for one package: user pins first; the framework stack and injected libraries
    are the image's, so the user's own entries are what can move."""
    advice = []
    for d in p.declarations:
        specified = re.search(r"[<>=!~]|@", d.requirement.split(";", 1)[0]) is not None
        if d.tier in (Tier.BASE, Tier.ENVIRONMENT) and specified:
            advice.append(f"loosen or remove the pin `{d.requirement}` at {d.source}")
    if not advice and p.tier == Tier.FRAMEWORK:
        advice.append(f"`{p.requirement}` is the framework stack's ({p.source}), fixed by the image: change the "
                      "other packages' pins instead")
    if not advice and p.tier == Tier.INJECTED:
        advice.append(f"`{p.requirement}` is injected into every environment ({p.source}): pin another version "
                      "of it in `base`, or change the other packages' pins")
    return advice


def resolution_failure(environment: str, stderr: str, provenance: Sequence[Provenance],
                       config_files: Sequence[str], index: str, platform: str = "") -> str:
    """The message for a `uv lock` of `environment` (or its resolution for one `platform` of the
    image) that found no solution."""
    why = explanation(stderr)
    by_package = {p.package: p for p in provenance}
    involved = [by_package[name] for name in named_packages("\n".join(why), by_package)]
    where = f" on the platform {platform}" if platform else ""
    lines = [f"environment `{environment}`: its requirements cannot be satisfied together{where} "
             f"(uv found no solution; private index: {index})."]
    if involved:
        lines.append("")
        lines.append("Declared in the configs:")
        for p in involved:
            for d in p.declarations:
                lines.append(f"  {_shown(d)}")
    lines.append("")
    lines.append("uv says:")
    lines.extend(f"  {line}" for line in why)
    advice = [a for p in involved for a in _advice(p)]
    lines.append("")
    if advice:
        lines.append("To fix it, " + ("; or ".join(advice) if len(advice) > 1 else advice[0]) + ".")
    else:
        files = ", ".join(config_files) or "the environment's config files"
        lines.append(f"To fix it, loosen or remove the pins uv names above in {files}.")
    return "\n".join(lines)
