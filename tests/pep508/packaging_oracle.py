"""A PEP 508 oracle: what a current `packaging` makes of requirement strings.

Built into a pex from its own resolve (`pep508`, a current `packaging`), because the peach plugin
itself runs with the `packaging` that Pants ships (21.3). Reads a JSON object from the file named
by its first argument:

- `strings`: for each, null when packaging accepts it, else packaging's message (`verdicts`);
- `pairs`: `[original, rendering]`; for each, null when packaging reads the rendering as the same
  requirement as the original (name, extras, specifier set, and a marker with the same value in
  every environment of GRID), else what differs (`differences`).

Prints `{"verdicts": [...], "differences": [...]}`.
"""
from __future__ import annotations

import itertools
import json
import sys
from typing import List, Optional

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement

# Environments to evaluate markers in: every combination of these axes (54). They hold the values
# the test's generated markers compare with, so that markers come out true as well as false.
PYTHONS = [("3.8", "3.8.10"), ("3.11", "3.11.4"), ("3.12", "3.12.0rc1")]
SYSTEMS = [("posix", "linux", "Linux"), ("posix", "darwin", "Darwin"), ("nt", 'we"ird', "Windows")]
MACHINES = ["x86_64", "aarch64"]
EXTRAS = ["", "x", "cuda"]
FIXED = {"platform_release": "6.1.0", "platform_version": "#1 SMP a'b", "implementation_name": "cpython",
         "platform_python_implementation": "CPython"}
GRID = [
    dict(FIXED, python_version=v, python_full_version=full, implementation_version=full, os_name=os_name,
         sys_platform=platform, platform_system=system, platform_machine=machine, extra=extra)
    for (v, full), (os_name, platform, system), machine, extra in itertools.product(PYTHONS, SYSTEMS, MACHINES, EXTRAS)
]


def evaluations(marker: Optional[Marker]) -> List[str]:
    """The marker's value in each environment of GRID ("error: ..." where it cannot be evaluated)."""
    if marker is None:
        return ["True"] * len(GRID)
    values = []
    for env in GRID:
        try:
            values.append(str(marker.evaluate(env)))
        except Exception as e:  # an undefined comparison: the same for the rendering, or a difference
            values.append(f"error: {type(e).__name__}")
    return values


def difference(original: str, rendering: str) -> Optional[str]:
    try:
        a = Requirement(original)
    except InvalidRequirement as e:  # the test reports this string as accepted by peach alone
        return f"the original does not parse: {str(e).splitlines()[0]}"
    try:
        b = Requirement(rendering)
    except InvalidRequirement as e:
        return f"the rendering does not parse: {str(e).splitlines()[0]}"
    for what, x, y in (
        ("name", a.name, b.name),
        ("extras", sorted(a.extras), sorted(b.extras)),
        ("specifier", sorted(map(str, a.specifier)), sorted(map(str, b.specifier))),
        ("url", a.url, b.url),
    ):
        if x != y:
            return f"{what}: {x!r} became {y!r}"
    ea, eb = evaluations(a.marker), evaluations(b.marker)
    if ea != eb:
        where = next(i for i, (x, y) in enumerate(zip(ea, eb)) if x != y)
        return f"marker: {a.marker} is {ea[where]} and {b.marker} is {eb[where]} in {GRID[where]}"
    return None


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    verdicts = []
    for text in request.get("strings", []):
        try:
            Requirement(text)
            verdicts.append(None)
        except InvalidRequirement as e:
            verdicts.append(str(e).splitlines()[0] or "invalid")
    differences = [difference(o, r) for o, r in request.get("pairs", [])]
    json.dump({"verdicts": verdicts, "differences": differences}, sys.stdout)


if __name__ == "__main__":
    main()
