"""A new repository adopts peach by following the README's "Use peach in your repository" section.

The commands and files are read from the README itself (its fenced blocks: a file block starts with a
`# <path>` comment line, every other `bash` line is a command), so the section cannot drift from what
works. The only step taken outside the README is the one it leaves to the reader: putting the plugin's
wheel, built from this repo (`pants package pants-plugins:peach-pants`), into `wheels/`.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from peach_e2e.repo import Checkout, Run, repo_root, user_env

SECTION = "## Use peach in your repository"


@dataclass(frozen=True)
class Adoption:
    commands: Tuple[str, ...]  # in README order, each a shell command line
    files: Tuple[Tuple[str, str], ...]  # (path, content) in README order
    steps: Tuple[Tuple[str, str], ...]  # ("run", command) or ("write", path), in README order


def readme_section(readme: str, heading: str) -> str:
    start = readme.index(heading + "\n")
    following = readme.find("\n## ", start + len(heading))
    return readme[start:following if following != -1 else len(readme)]


def adoption_steps(section: str) -> Adoption:
    commands: List[str] = []
    files: List[Tuple[str, str]] = []
    steps: List[Tuple[str, str]] = []
    for lang, body in re.findall(r"^```(\w+)\n(.*?)^```$", section, re.MULTILINE | re.DOTALL):
        first, _, rest = body.partition("\n")
        file_comment = re.fullmatch(r"# (\S+)", first.strip())
        if file_comment and lang in ("toml", "python", "yaml"):
            files.append((file_comment.group(1), rest))
            steps.append(("write", file_comment.group(1)))
            continue
        assert lang == "bash", f"a README block neither a file nor commands: {lang}"
        for line in body.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command:
                commands.append(command)
                steps.append(("run", command))
    return Adoption(tuple(commands), tuple(files), tuple(steps))


def config_lines(adoption: Adoption) -> int:
    """Lines of pants.toml and BUILD that set something (not blank, not comments)."""
    return sum(
        1 for path, text in adoption.files if path in ("pants.toml", "BUILD")
        for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    )


def test_the_readme_section_is_read_as_intended() -> None:
    adoption = adoption_steps(readme_section((repo_root() / "README.md").read_text(), SECTION))
    assert [path for path, _ in adoption.files] == ["pants.toml", "BUILD", "acme/peach.conf/environments.yaml"]
    assert config_lines(adoption) <= 6
    assert adoption.commands[0].startswith("unzip -p wheels/peach_pants-")  # the launcher, from the wheel
    assert "./pants package ::" in adoption.commands


def shell(repo: Path, command: str, env: Dict[str, str]) -> Run:
    proc = subprocess.run(["bash", "-c", command], cwd=repo, env=user_env(env), capture_output=True, text=True,
                          timeout=900)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def ok(run: Run, what: str) -> Run:
    assert run.returncode == 0, f"{what}:\n{run.stderr}"
    assert "Traceback (most recent call last)" not in run.stderr, what
    assert "DEPRECATED" not in run.stderr, f"{what} printed a deprecation:\n{run.stderr}"
    return run


def test_a_new_repository_adopts_peach_by_the_readme(example: Checkout, tmp_path: Path) -> None:
    adoption = adoption_steps(readme_section((repo_root() / "README.md").read_text(), SECTION))
    ok(example.pants("package", "pants-plugins:peach-pants"), "building the wheel")
    (wheel,) = (example.path / "dist").glob("peach_pants-*.whl")

    repo = Checkout(tmp_path / "new-repo", {"PANTS_NAMED_CACHES_DIR": str(tmp_path / "named-caches")})
    (repo.path / "wheels").mkdir(parents=True)
    shutil.copy(wheel, repo.path / "wheels")
    subprocess.run(["git", "init", "-q", str(repo.path)], check=True)
    env = dict(repo.env)
    runs: Dict[str, Run] = {}
    files = dict(adoption.files)
    try:
        for kind, what in adoption.steps:
            if kind == "write":
                repo.write({what: files[what]})
            else:
                runs[what] = ok(shell(repo.path, what, env), what)

        assert (repo.path / "pants").read_bytes() == (repo_root() / "pants").read_bytes()
        for name in ("base", "ml", "codops-gateway"):
            assert (repo.path / f"dist/peach/acme/{name}/uv.lock").is_file()
        assert 'name = "tqdm"' in repo.read("dist/peach/acme/ml/uv.lock")
        # `export` writes the peach environment alone, quietly, and uv keeps to the project's `.venv`.
        export = next(r for c, r in runs.items() if c.startswith("./pants export"))
        assert sorted(p.name for p in (repo.path / "dist/export").iterdir()) == ["peach-acme"]
        assert (repo.path / "dist/export/peach-acme/ml/.venv/bin/python").exists()
        assert "VIRTUAL_ENV" not in export.stderr and "Installed" not in export.stderr, export.stderr
        # By target too: the adopting repository runs peach's export alone (Pants' Python backend, whose
        # target-based export is deprecated and also exports its tools' virtualenvs, is not enabled here).
        shutil.rmtree(repo.path / "dist/export")
        by_target = ok(repo.pants("export", "//:peach#acme"), "export by target")
        assert sorted(p.name for p in (repo.path / "dist/export").iterdir()) == ["peach-acme"]
        assert sorted(p.name for p in (repo.path / "dist/export/peach-acme").iterdir()) == [
            "base", "codops-gateway", "ml"]
        assert "VIRTUAL_ENV" not in by_target.stderr and "Installed" not in by_target.stderr, by_target.stderr

        # The README's "Committed lockfiles": a `--resolve` that does not exist lists the valid ones,
        # the peach resolves included.
        unknown = repo.pants("generate-lockfiles", "--resolve=peach/acme/nope")
        assert unknown.returncode != 0 and "peach/acme/ml" in unknown.stderr, unknown.stderr
        # Messages name the command as it is run here, `./pants`.
        why = repo.pants("peach-why", "//:peach#acme/ml")
        assert why.returncode == 1 and "`./pants peach-why --package=torch" in why.stderr, why.stderr

        # `tailor` writes the target the section shows, named `peach` also in the root BUILD file (where
        # Pants would name it `root`), so the addresses are `//:peach#...`; an existing target keeps its name.
        (repo.path / "BUILD").unlink()
        (repo.path / "acme/peach.conf").rename(repo.path / "peach.conf")
        ok(repo.pants("tailor", "::"), "tailor")
        assert re.fullmatch(r'peach_config\(\s*name="peach",?\s*\)\s*', repo.read("BUILD")), repo.read("BUILD")
        assert "//:peach#acme/ml" in ok(repo.pants("list", "::"), "list").stdout.split()
        repo.write({"BUILD": 'peach_config(name="configs")\n'})
        ok(repo.pants("tailor", "::"), "tailor with a target")
        assert repo.read("BUILD") == 'peach_config(name="configs")\n'
        assert "//:configs#acme/ml" in ok(repo.pants("list", "::"), "list").stdout.split()

        # A pin no release satisfies: the environment, the declaration, uv's reason and the fix.
        repo.write({"peach.conf/pins.yaml": 'codops: acme\npy_environments:\n  ml:\n    dependencies: ["numpy==0.0.1"]\n'})
        failed = repo.pants("package", "//:configs#acme/ml")
        assert failed.returncode != 0
        assert failed.stderr.count("environment `acme/ml`: its requirements cannot be satisfied together") == 1, \
            failed.stderr
        assert "`numpy==0.0.1` (environment, peach.conf/pins.yaml:4)" in failed.stderr
        assert "numpy==0.0.1" in failed.stderr.split("uv says:", 1)[1]
        assert "To fix it, loosen or remove the pin `numpy==0.0.1` at peach.conf/pins.yaml:4." in failed.stderr
        (repo.path / "peach.conf/pins.yaml").unlink()

        # Without the trial line, the private package needs the private index: an unreachable one fails
        # within `[peach].index_timeout`, with one message.
        started = time.monotonic()
        down = repo.pants("package", "::", env={"PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib']",
                                                "PANTS_PEACH_PRIVATE_INDEX": "http://peach-index.invalid/simple",
                                                "PANTS_PEACH_INDEX_TIMEOUT": "10"})
        took = time.monotonic() - started
        assert down.returncode != 0
        assert down.stderr.count("cannot reach the private index http://peach-index.invalid/simple") == 1, down.stderr
        assert took < 10 + 15, took  # the index timeout, plus Pants noticing the changed options
    finally:
        repo.stop()


def test_missing_settings_say_what_to_add(example: Checkout, tmp_path: Path) -> None:
    ok(example.pants("package", "pants-plugins:peach-pants"), "building the wheel")
    (wheel,) = (example.path / "dist").glob("peach_pants-*.whl")
    repo = Checkout(tmp_path / "new-repo", {"PANTS_NAMED_CACHES_DIR": str(tmp_path / "named-caches")})
    (repo.path / "wheels").mkdir(parents=True)
    shutil.copy(wheel, repo.path / "wheels")
    shutil.copy(repo_root() / "pants", repo.path / "pants")
    repo.write({
        "pants.toml": (
            f'GLOBAL.plugins = ["peach-pants=={wheel.name.split("-")[1]}"]\nGLOBAL.backend_packages = ["peach"]\n'
            'python-repos.find_links = ["file://%(buildroot)s/wheels"]\n'
        ),
        "BUILD": "peach_config()\n",
        "team/peach.conf/envs.yaml": "codops: acme\npy_environments:\n  base:\n    dependencies: [six]\n",
    })
    try:
        run = repo.pants("list", "::")
        assert run.returncode != 0
        assert "write `peach_config(name=\"peach\")`" in run.stderr
        repo.write({"BUILD": 'peach_config(name="peach")\n'})
        run = repo.pants("package", "::")
        assert run.returncode != 0
        assert "[peach].private_index is not set" in run.stderr and "Set it in pants.toml, under `[peach]`" in run.stderr
        assert "Traceback (most recent call last)" not in run.stderr
        run = repo.pants("package", "::", env={"PANTS_PEACH_PRIVATE_INDEX": "wheels",
                                              "PANTS_PEACH_FRAMEWORK_STACK": "stack.txt"})
        assert run.returncode != 0
        assert "the framework stack file `stack.txt` does not exist" in run.stderr
    finally:
        repo.stop()
