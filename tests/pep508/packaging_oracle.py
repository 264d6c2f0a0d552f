"""A PEP 508 oracle: which requirement strings a current `packaging` accepts.

Built into a pex from its own resolve (`pep508`, a current `packaging`), because the peach plugin
itself runs with the `packaging` that Pants ships (21.3). Reads a JSON list of strings from the
file named by its first argument; prints a JSON list: for each string, null when accepted, else
packaging's message.
"""
from __future__ import annotations

import json
import sys

from packaging.requirements import InvalidRequirement, Requirement


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        strings = json.load(f)
    verdicts = []
    for text in strings:
        try:
            Requirement(text)
            verdicts.append(None)
        except InvalidRequirement as e:
            verdicts.append(str(e).splitlines()[0] or "invalid")
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()
