"""The README, the docs and the code cite only files the repository has.

Checked on the checkout under test: every backticked repository path in README.md and docs/*.md
(but docs/porting.md, which names files of Pants and files a port would add)
that names a file or directory of this repository (`docs/...`, `tests/...`, `pants-plugins/...`,
`example/...`, `3rdparty/...`, or a bare `*.md`) exists, and every "§N" the code, the README and
the architecture and decisions docs cite is a section of docs/configuration.md.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

from peach_e2e.repo import repo_root

ROOTS = ("docs/", "tests/", "pants-plugins/", "example/", "3rdparty/")


def cited_paths(text: str) -> List[str]:
    found = []
    for quoted in re.findall(r"`([^`\s]+)`", text):
        path = quoted.rstrip(".,:;")
        if any(ch in path for ch in "<>*{}$") or path.startswith(("dist/", "/")):
            continue  # a pattern or an output, not a file of the repository
        if path.startswith(ROOTS) or (path.endswith(".md") and "/" not in path):
            found.append(path)
    return found


def test_readme_and_docs_cite_only_files_the_repository_has() -> None:
    root = repo_root()
    missing = []
    # docs/porting.md names files of Pants' repository and files a port would add: not citations.
    for doc in [root / "README.md", *sorted(p for p in (root / "docs").glob("*.md") if p.name != "porting.md")]:
        for path in cited_paths(doc.read_text()):
            where = root / path if "/" in path else doc.parent / path
            if not (where.exists() or (root / path).exists() or (root / "docs" / path).exists()):
                missing.append(f"{doc.relative_to(root)}: `{path}`")
    assert not missing, missing


def test_the_sections_the_code_cites_exist() -> None:
    root = repo_root()
    sections = set(re.findall(r"^## (\d+)\. ", (root / "docs/configuration.md").read_text(), re.MULTILINE))
    assert sections == {str(n) for n in range(1, 10)}
    cited = set()
    # docs/porting.md numbers its own sections; everything else cites docs/configuration.md's.
    for source in [*(root / "pants-plugins").rglob("*.py"), root / "README.md", root / "docs/architecture.md",
                   root / "docs/decisions.md"]:
        cited.update(re.findall(r"§(\d+)", source.read_text()))
    assert cited and cited <= sections, sorted(cited - sections)


def test_no_citation_of_the_platforms_own_pages() -> None:
    root = repo_root()
    for source in [*(root / "pants-plugins").rglob("*.py"), root / "README.md", *(root / "docs").glob("*.md")]:
        text = source.read_text()
        for page in ("semantics.md", "python_environments.md"):
            assert page not in text, f"{source.relative_to(root)} cites `{page}`, which the repository does not have"
