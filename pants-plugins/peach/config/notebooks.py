"""Notebook checks (semantics §6): every notebook exists, and a code cell defines its `method`.

No Pants imports: the Pants side reads the notebooks and hands their contents in.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Tuple

from peach.config.errors import Problem, ProblemCollector, did_you_mean, quote_list
from peach.config.model import Model


@dataclass(frozen=True)
class NotebookCells:
    """The code cells of one notebook: (cell number, counting every cell from 1, source).

    `cells` is None when the file is not a Jupyter notebook (not JSON with a `cells` list).
    """

    path: str
    cells: Optional[Tuple[Tuple[int, str], ...]]

    @property
    def source(self) -> Optional[str]:
        return None if self.cells is None else "\n".join(code for _, code in self.cells)


def read_notebook(path: str, content: bytes) -> NotebookCells:
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return NotebookCells(path, None)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return NotebookCells(path, None)
    cells = []
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            cells.append((number, source))
    return NotebookCells(path, tuple(cells))


def check_notebooks(model: Model, notebooks: Mapping[str, NotebookCells], escaping: Iterable[str] = ()) -> None:
    """Every notebook exists and a code cell defines its `method`; raises ConfigError otherwise.

    `notebooks`: the notebooks that exist, read. `escaping`: notebook paths that are symbolic links
    leading outside the repository.
    """
    problems = ProblemCollector()
    escaping = frozenset(escaping)
    for codops in model.codops:
        for nb in codops.notebooks:
            file, line = nb.declared_in.path, nb.declared_in.line
            key = f"{nb.owner}.notebook"
            if nb.path in escaping:
                problems.add(Problem(file, line, key,
                                     f"`{nb.path}` is a symbolic link that leads outside the repository",
                                     "a notebook file inside the repository",
                                     "copy the notebook into the repository instead of linking to it"))
                continue
            if nb.path not in notebooks:
                problems.add(Problem(file, line, key, f"the notebook `{nb.path}` does not exist",
                                     "a path relative to the directory that holds `peach.conf/` (or `peach.yaml`)",
                                     "fix the path, or add the notebook to the repository"))
                continue
            source = notebooks[nb.path].source
            if source is None:
                problems.add(Problem(file, line, key, f"`{nb.path}` is not a valid Jupyter notebook (not JSON "
                                     "with a `cells` list)", "an `.ipynb` file saved by Jupyter",
                                     "re-save the notebook from Jupyter"))
                continue
            if not re.search(rf"^(async\s+)?def\s+{re.escape(nb.method)}\s*\(", source, re.MULTILINE):
                defined = sorted(set(re.findall(r"^(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", source, re.MULTILINE)))
                guess = did_you_mean(nb.method, defined, cutoff=0.6)
                what = f"no code cell of `{nb.path}` defines `{nb.method}` (a top-level `def {nb.method}(`)"
                if guess:
                    what += f"; did you mean `{guess}`?"
                declared = nb.method_declared_in or nb.declared_in
                problems.add(Problem(declared.path, declared.line, f"{nb.owner}.method", what,
                                     f"the functions the notebook defines: {quote_list(defined)}",
                                     f"set `method: {guess}`" if guess else f"define `{nb.method}` in the notebook"))
    problems.raise_if_any()
