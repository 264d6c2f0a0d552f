#!/usr/bin/env python3
"""peach benchmark: config scale (100 to 10,000 files), cold build against a plain `uv lock` loop
(20 environments, and 200 with pantsd running), no-op and incremental rebuilds, a fresh CI machine with
a warm remote cache, and drift with and without alignment.

Run from anywhere, with any CPython 3.9-3.12 that has pip:

    python3 tests/benchmark/bench.py            # full run (see the README for its duration)
    python3 tests/benchmark/bench.py --quick    # small sizes, one run each: a smoke run

It prints numbers, not verdicts on correctness: a Markdown table of median / min / max per scenario,
the drift counts, then the goals. Everything but the `example` scenario runs on this machine: the
index servers and the remote cache (BuildGrid) bind 127.0.0.1 only, every checkout is a fresh clone
of this repo in a temporary directory, and every server and pantsd it starts is stopped on exit.
The `example` scenario locks the repo's own example against its configured indexes (PyPI). See
tests/benchmark/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
os.environ["PEACH_REPO_ROOT"] = str(REPO_ROOT)  # what `peach_e2e.repo.fresh_checkout` clones

from peach_e2e.buildgrid import BuildGridServer, install_buildgrid  # noqa: E402
from peach_e2e.indexes import PypiServer, build_wheel, build_world  # noqa: E402
from peach_e2e.repo import fresh_checkout, user_env  # noqa: E402

# The uv that Pants runs (3rdparty/python/BUILD, `[uv]`), and the index server the e2e tests use.
UV_VERSION = "0.13.9"
TOOLS = ("uv==" + UV_VERSION, "pypiserver==2.0.1", "setuptools==63.4.3", "pip==26.0.1")

INJECTED = "['pipe-algorithms-lib', 'implicit-lite==0.7.2']"
STACK = "fastapi-lite==0.110.0\npydantic-lite==2.5.0\nstarlette-lite==0.37.0\n"
SEED = 20240517


# ---------------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------------


# Config scale: each codops has CFG_FILES_PER_CODOPS config files (one environments file, the rest
# endpoint/task files), CFG_ENVS_PER_CODOPS declared environments (`base` included; the gateway
# environment comes on top), CFG_ITEMS_PER_CODOPS endpoints + tasks and CFG_NOTEBOOKS_PER_CODOPS notebooks.
CFG_FILES_PER_CODOPS = 10
CFG_ENVS_PER_CODOPS = 5
CFG_ITEMS_PER_CODOPS = 50
CFG_NOTEBOOKS_PER_CODOPS = 3
# At this many config files and more, a scale runs at most BIG_SCALE_RUNS times (a cold `list ::` of
# 10,000 files takes minutes).
BIG_SCALE_FILES = 10_000
BIG_SCALE_RUNS = 2
# The goals name these scales.
GOAL_SCALE = 1_000
GOAL_BIG_SCALE = 10_000
# The environments of the `scale` goal (the full run's size; `--quick` builds fewer, so its goal is not measured).
SCALE_ENVS = 200


@dataclass(frozen=True)
class Sizes:
    # Config scale: nothing is locked. The number of config files of each scale (10 per codops).
    cfg_files: Tuple[int, ...]
    # Realistic environments: each codops has base, 3 named environments and the gateway.
    cold_codops: int
    warm_codops: int
    world_packages: int
    # The `scale` scenario: the cold build with pantsd running, at 10 times the `cold` size.
    scale_codops: int

    @property
    def envs_per_codops(self) -> int:
        return 5


FULL = Sizes((100, 1_000, 10_000), cold_codops=4, warm_codops=10, world_packages=150, scale_codops=40)
QUICK = Sizes((10, 100), cold_codops=1, warm_codops=2, world_packages=150, scale_codops=2)


# ---------------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    maxrss_mib: float  # peak RSS of the process (and of its children it waited for)

    def uv_lock_runs(self) -> List[Tuple[str, str]]:
        """(environment, purpose) of each `uv lock` process that ran, one per process.

        Pants logs `Completed: uv lock <codops>/<env>`, with the lock's purpose in parentheses when it
        has one: `(check)`, `(aligned with base)`, `(with metadata)`, `(generate-lockfiles)`. A cache
        hit runs nothing and logs nothing.
        """
        return sorted((m.group(1), m.group(2) or "") for m in UV_LOCK_LINE.finditer(self.stderr))

    def uv_locks(self) -> List[str]:
        """The environments whose `uv lock` ran, once per process (an environment locked twice, e.g.
        again `with metadata`, is listed twice)."""
        return [env for env, _ in self.uv_lock_runs()]

    def uv_processes(self) -> int:
        """Every uv process that ran: `uv lock` and `uv pip compile` (the platform checks)."""
        return len(re.findall(r"Completed: uv (?:lock|pip compile) ", self.stderr))

    def phase_seconds(self, description: str) -> Optional[float]:
        """Seconds between Pants' `Starting: <description>` and `Completed: <description>` log lines."""
        stamps = []
        for what in ("Starting", "Completed"):
            m = re.search(rf"^(\d\d):(\d\d):(\d\d(?:\.\d+)?) \[\w+\] {what}: {re.escape(description)}",
                          self.stderr, re.MULTILINE)
            if not m:
                return None
            stamps.append(int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)))
        return (stamps[1] - stamps[0]) % 86400

    def stat(self, counter: str) -> Optional[int]:
        """A counter of Pants' stats log (`PANTS_STATS_LOG=true`), e.g. `remote_cache_requests_cached`."""
        match = re.search(rf"^\s*{re.escape(counter)}: (\d+)\s*$", self.stderr, re.MULTILINE)
        return int(match.group(1)) if match else None


UV_LOCK_LINE = re.compile(r"Completed: uv lock ([^\s()]+)(?: \(([^()\n]*)\))?")


def run(argv: Sequence[str], cwd: Path, env: Dict[str, str], timeout: float = 1800) -> Result:
    """Run `argv`, timing it and reading its peak RSS from wait4(2)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(proc.returncode, seconds, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), usage.ru_maxrss / 1024)


class BenchError(RuntimeError):
    pass


def check(result: Result, what: str) -> Result:
    if result.returncode != 0:
        raise BenchError(f"{what} failed with exit code {result.returncode}:\n{result.stderr[-6000:]}")
    return result


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# Tools: uv and pypiserver, pinned, from PyPI (never from PATH)
# ---------------------------------------------------------------------------------------------------


def install_tools(dest: Path) -> Path:
    """pip-install the pinned tools into `dest`; returns the uv binary."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location",
         "--target", str(dest), *TOOLS],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise BenchError(f"pip install {' '.join(TOOLS)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    uv = dest / "bin" / "uv"
    version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if UV_VERSION not in version:
        raise BenchError(f"expected uv {UV_VERSION}, got {version}")
    # PypiServer runs pypiserver with this interpreter and PYTHONPATH = sys.path.
    sys.path.insert(0, str(dest))
    return uv


def python311() -> str:
    """The real path of the CPython 3.11 that uv locks with (Pants finds the same one on PATH / pyenv)."""
    for name in ("python3.11",):
        found = shutil.which(name)
        if found:
            proc = subprocess.run([found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
    raise BenchError("no python3.11 on PATH: peach locks for CPython 3.11 (see the README's Setup)")


# ---------------------------------------------------------------------------------------------------
# The synthetic public world
# ---------------------------------------------------------------------------------------------------

LAYERS = 6
VERSIONS = ("1.0.0", "1.1.0", "2.0.0")


@dataclass
class SynWorld:
    """Synthetic public packages in layers; a package depends only on packages of lower layers."""

    layers: List[List[str]]
    deps: Dict[str, Set[str]]  # name -> union of its dependencies over all versions

    def closure(self, names: Sequence[str]) -> Set[str]:
        seen: Set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(self.deps[name])
        return seen


def build_syn_world(public_dir: Optional[Path], n_packages: int, rng: random.Random) -> SynWorld:
    """The layers and edges, and (unless `public_dir` is None) the wheels of every version."""
    per = max(2, n_packages // LAYERS)
    layers = [[f"syn-l{layer}-p{i:02d}" for i in range(per)] for layer in range(LAYERS)]
    deps: Dict[str, Set[str]] = {}
    for layer, names in enumerate(layers):
        for name in names:
            if layer == 0:
                base: List[str] = []
                extra: List[str] = []
            else:
                base = rng.sample(layers[layer - 1], rng.choice((1, 1, 2, 2, 3)))
                if layer >= 2 and rng.random() < 0.4:
                    base.append(rng.choice(layers[rng.randrange(layer - 1)]))
                lower = [n for lay in layers[:layer] for n in lay if n not in base]
                extra = [rng.choice(lower)]  # 2.0.0 gains a dependency
            deps[name] = set(base) | set(extra)
            for version in VERSIONS if public_dir is not None else ():
                requires = [f"{d}>=1.0" for d in sorted(set(base))]
                if version == "2.0.0":
                    requires += [f"{d}>=1.1,<3" for d in extra if d not in base]
                build_wheel(public_dir, name, version, tuple(requires), ">=3.8")
    return SynWorld(layers, deps)


# ---------------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------------


def notebook(methods: Sequence[str]) -> str:
    source = "".join(f"def {m}(payload=None):\n    return payload\n\n" for m in methods)
    return json.dumps({"cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": []}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def envs_yaml(codops: str, envs: Dict[str, List[str]]) -> str:
    lines = [f"codops: {codops}", "", "py_environments:"]
    for name, reqs in envs.items():
        lines += [f"  {name}:", "    dependencies:"]
        lines += [f"      - {r}" for r in reqs] or ["      []"]
    return "\n".join(lines) + "\n"


def items_yaml(codops: str, items: Sequence[Tuple[str, str, str, str]]) -> str:
    """items: (kind, name, env, notebook-and-method) with kind `endpoint` or `task`."""
    endpoints = [i for i in items if i[0] == "endpoint"]
    tasks = [i for i in items if i[0] == "task"]
    lines = [f"codops: {codops}", ""]
    if endpoints:
        lines.append("endpoints:")
        for _, name, env, (nb, method) in endpoints:
            lines += [f"  {name}:", f"    url: /{name}"]
            if env != "base":
                lines.append(f"    py_env: {env}")
            lines += ["    components:", "      main:", f"        notebook: {nb}", f"        method: {method}"]
    if tasks:
        lines.append("tasks:")
        for _, name, env, (nb, method) in tasks:
            lines += [f"  {name}:", f"    notebook: {nb}", f"    method: {method}"]
            if env != "base":
                lines.append(f"    py_env: {env}")
    return "\n".join(lines) + "\n"


def reset_example(checkout: Path) -> None:
    shutil.rmtree(checkout / "example", ignore_errors=True)
    (checkout / "3rdparty/peach/framework-stack.txt").write_text(STACK)


def write(checkout: Path, rel: str, text: str) -> None:
    path = checkout / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def pick_requirements(world: SynWorld, rng: random.Random, start: Set[str], target: int,
                      exclude: Set[str] = frozenset()) -> List[str]:
    """Top-level picks (layers 1-5) until the closure of `start` + picks has `target` packages."""
    candidates = [n for layer in world.layers[1:] for n in layer if n not in exclude]
    rng.shuffle(candidates)
    picks: List[str] = []
    have = set(start)
    for name in candidates:
        if len(have) >= target:
            break
        if name in have:
            continue
        new = world.closure([name]) - have
        if len(have) + len(new) > target + 12:
            continue
        picks.append(name)
        have |= new
    return picks


def requirement_text(name: str, rng: random.Random) -> str:
    return rng.choice((name, name, name, f"{name}>=1.0", f"{name}>=1.1", f"{name}==1.1.0"))


def config_scale_repo(checkout: Path, n_codops: int, world: SynWorld, rng: random.Random) -> Tuple[int, int, int]:
    """Many codops, files, environments, endpoints and tasks. Returns (files, environments, items)."""
    reset_example(checkout)
    names = [n for layer in world.layers for n in layer]
    n_files = n_envs = n_items = 0
    for c in range(n_codops):
        codops = codops_name(c, n_codops)
        root = f"example/{codops}"
        env_names = ["base", *(f"e{i}" for i in range(1, CFG_ENVS_PER_CODOPS))]
        envs = {e: [requirement_text(n, rng) for n in rng.sample(names, rng.randint(3, 8))] for e in env_names}
        write(checkout, f"{root}/peach.conf/envs.yaml", envs_yaml(codops, envs))
        n_files += 1
        n_envs += len(env_names)
        methods: Dict[int, List[str]] = {j: [] for j in range(CFG_NOTEBOOKS_PER_CODOPS)}
        files: Dict[int, list] = {k: [] for k in range(CFG_FILES_PER_CODOPS - 1)}
        for i in range(CFG_ITEMS_PER_CODOPS):
            j = i % CFG_NOTEBOOKS_PER_CODOPS
            method = f"run_{i}"
            methods[j].append(method)
            kind = "endpoint" if i % 2 == 0 else "task"
            name = f"{'ep' if kind == 'endpoint' else 'task'}-{i:03d}"
            files[i % len(files)].append((kind, name, rng.choice(env_names), (f"notebooks/nb{j}.ipynb", method)))
            n_items += 1
        for k, items in files.items():
            write(checkout, f"{root}/peach.conf/svc-{k:02d}.yaml", items_yaml(codops, items))
            n_files += 1
        for j, ms in methods.items():
            write(checkout, f"{root}/notebooks/nb{j}.ipynb", notebook(ms))
    return n_files, n_envs, n_items


def codops_name(c: int, n_codops: int) -> str:
    return f"c{c:0{max(3, len(str(n_codops - 1)))}d}"


def edit_config(path: Path, tag: str) -> None:
    """Append a comment: the file changes, its configs do not."""
    path.write_text(path.read_text() + f"# edited by the benchmark: {tag}\n")


def edit_requirement(path: Path, n: int) -> None:
    """Change the first requirement of an environments file (`!=0.0.<n>` added): a real edit of an
    environment, so its codops' targets are built again."""
    lines = path.read_text().splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.startswith("      - "))
    req = lines[i].rstrip("\n")
    lines[i] = f"{req}{',' if any(c in req for c in '<>=!~') else ''}!=0.0.{n}\n"
    path.write_text("".join(lines))


def edit_notebook(path: Path, tag: str) -> None:
    """Append a comment line to the source of the notebook's first code cell: a real edit of a cell
    (the notebook is read again), still valid JSON and valid Python, every method still defined."""
    data = json.loads(path.read_text())
    cell = next(c for c in data["cells"] if c.get("cell_type") == "code")
    line = f"# edited by the benchmark: {tag}\n"
    source = cell["source"]
    if isinstance(source, list):
        if source and not source[-1].endswith("\n"):
            source[-1] += "\n"
        source.append(line)
        text = "".join(source)
    else:
        text = (source if not source or source.endswith("\n") else source + "\n") + line
        cell["source"] = text
    compile(text, str(path), "exec")  # a SyntaxError here is a bug of this function
    path.write_text(json.dumps(data, indent=1))


@dataclass
class RealisticRepo:
    """Codops with base + 3 named environments, each resolving to ~30-60 packages."""

    checkout: Path
    world: SynWorld
    envs: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)  # codops -> env -> requirements

    def write_codops(self, codops: str) -> None:
        write(self.checkout, f"example/{codops}/peach.conf/envs.yaml", envs_yaml(codops, self.envs[codops]))

    def closure_names(self, codops: str, env: str) -> Set[str]:
        reqs = [*self.envs[codops]["base"], *(self.envs[codops][env] if env != "base" else [])]
        return self.world.closure([re.split(r"[<>=!~ ;\[]", r, 1)[0] for r in reqs])


def realistic_repo(checkout: Path, n_codops: int, world: SynWorld, rng: random.Random, prefix: str) -> RealisticRepo:
    reset_example(checkout)
    repo = RealisticRepo(checkout, world)
    for c in range(n_codops):
        codops = f"{prefix}{c:02d}"
        base_picks = pick_requirements(world, rng, set(), rng.randint(15, 22))
        base_closure = world.closure(base_picks)
        envs = {"base": [requirement_text(n, rng) for n in base_picks]}
        for e in ("e1", "e2", "e3"):
            own = pick_requirements(world, rng, base_closure, rng.randint(28, 46), exclude=set(base_picks))
            envs[e] = [requirement_text(n, rng) for n in own]
        repo.envs[codops] = envs
        repo.write_codops(codops)
        items = [("endpoint", "recommend", "e1", ("notebooks/nb.ipynb", "recommend")),
                 ("endpoint", "rank", "e2", ("notebooks/nb.ipynb", "rank")),
                 ("task", "reindex", "e3", ("notebooks/nb.ipynb", "reindex")),
                 ("task", "report", "base", ("notebooks/nb.ipynb", "report"))]
        write(checkout, f"example/{codops}/peach.conf/services.yaml", items_yaml(codops, items))
        write(checkout, f"example/{codops}/notebooks/nb.ipynb", notebook(["recommend", "rank", "reindex", "report"]))
    return repo


# ---------------------------------------------------------------------------------------------------
# Pants and pantsd
# ---------------------------------------------------------------------------------------------------


# Every checkout plays a platform repository: the peach configs and the plugin, nothing else. This
# repo's own Python targets (the plugin's wheel, its tests, the pep508 oracle pex) are not what a
# platform builds, and the baseline loop does not build them either; building them would add Pants'
# discovery of their CPython 3.9 to every `package ::`. The plugin still loads (`[GLOBAL].pythonpath`).
PLATFORM_REPO_IGNORE = "+['/pants-plugins/', '/tests/', '/3rdparty/']"


class Bench:
    def __init__(self, tmp: Path, named_caches: Path) -> None:
        self.tmp = tmp
        self.named_caches = named_caches
        self.checkouts: List[Path] = []
        self.servers: List[PypiServer] = []
        self.caches: List[BuildGridServer] = []

    def env(self, extra: Optional[Dict[str, Optional[str]]] = None) -> Dict[str, str]:
        """What a user's shell passes on, the benchmark's named caches and injected requirements, and
        `extra` (a value None removes the variable)."""
        env = user_env({"PANTS_NAMED_CACHES_DIR": str(self.named_caches),
                        "PANTS_PEACH_INJECTED_REQUIREMENTS": INJECTED,
                        "PANTS_BUILD_IGNORE": PLATFORM_REPO_IGNORE})
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def pants(self, checkout: Path, args: Sequence[str], *, pantsd: bool,
              env: Optional[Dict[str, Optional[str]]] = None, what: str = "") -> Result:
        argv = ["./pants", "--pantsd" if pantsd else "--no-pantsd", *args]
        return check(run(argv, checkout, self.env(env)), what or " ".join(argv))

    # -- pantsd -------------------------------------------------------------------------------------

    @staticmethod
    def pantsd_pid(checkout: Path) -> Optional[int]:
        """The pid of this checkout's pantsd, if one runs (its title is `pantsd [<buildroot>]`)."""
        for pid_file in checkout.glob(".pids/*/pantsd/pid"):
            try:
                pid = int(pid_file.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError):
                continue
            if "pantsd" in cmdline and str(checkout) in cmdline:
                return pid
        return None

    @staticmethod
    def vmhwm_mib(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise BenchError(f"no VmHWM for pid {pid}")

    def stop_pantsd(self, checkout: Path) -> None:
        pid = self.pantsd_pid(checkout)
        if pid is None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.05)

    # -- servers ------------------------------------------------------------------------------------

    def start_indexes(self, private_dir: Path, public_dir: Path) -> Tuple[PypiServer, PypiServer]:
        """Both index servers, on new ports: every lock of this pair's pyprojects is a cache miss."""
        private = PypiServer(private_dir, lifetime=4 * 3600).start()
        self.servers.append(private)
        public = PypiServer(public_dir, lifetime=4 * 3600).start()
        self.servers.append(public)
        return private, public

    def stop_indexes(self, *servers: PypiServer) -> None:
        for server in servers:
            server.stop()
            if server in self.servers:
                self.servers.remove(server)

    def start_remote_cache(self, bgd: Path, workdir: Path) -> BuildGridServer:
        """A BuildGrid remote cache (CAS + action cache) on 127.0.0.1, stopped by `cleanup` at the latest."""
        workdir.mkdir(parents=True, exist_ok=True)
        server = BuildGridServer(bgd, workdir)
        self.caches.append(server)  # before start: a failed start still stops what it spawned
        try:
            server.start()
        except RuntimeError as e:
            raise BenchError(f"the BuildGrid remote cache did not start: {e}") from None
        return server

    def stop_remote_cache(self, server: BuildGridServer) -> None:
        server.stop()
        if server in self.caches:
            self.caches.remove(server)

    def cleanup(self) -> None:
        for checkout in self.checkouts:
            try:
                self.stop_pantsd(checkout)
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                log(f"could not stop pantsd of {checkout.name}: {e}")
        for server in list(self.servers):
            server.stop()
        self.servers.clear()
        for cache in list(self.caches):
            try:
                cache.stop()
            except Exception as e:  # noqa: BLE001
                log(f"could not stop the remote cache: {e}")
        self.caches.clear()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def index_env(private: PypiServer, public: PypiServer) -> Dict[str, str]:
    return {"PANTS_PEACH_PRIVATE_INDEX": private.url, "PANTS_PEACH_PUBLIC_INDEX": public.url}


def remote_cache_env(cache: BuildGridServer) -> Dict[str, str]:
    """Read from and write to the remote cache, and print Pants' counters (as the CI machines of
    tests/peach_e2e/remote_cache_test.py do). Only ever passed to one run, never kept in `Bench.env`."""
    return {"PANTS_REMOTE_CACHE_READ": "true", "PANTS_REMOTE_CACHE_WRITE": "true",
            "PANTS_REMOTE_STORE_ADDRESS": cache.address, "PANTS_STATS_LOG": "true"}


def launcher_cache() -> str:
    """The launcher's cache (its Pants venv and pex tool) as `Bench.env` makes the launcher find it.

    A "new machine" keeps it: then the Pants venv, and so every interpreter path in a process's
    cache key, is the same as on the first machine.
    """
    env = user_env()
    return f"{env.get('XDG_CACHE_HOME') or env['HOME'] + '/.cache'}/peach-pants"


def new_machine_env(root: Path) -> Dict[str, str]:
    """A machine with nothing cached: its own HOME (so its own Pants local store) and named caches."""
    home = root / "home"
    home.mkdir(parents=True)
    (root / "named_caches").mkdir()
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PEACH_PANTS_CACHE": launcher_cache(),
            "PANTS_NAMED_CACHES_DIR": str(root / "named_caches")}


# ---------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    unit: str = "s"
    values: List[float] = field(default_factory=list)
    uv: List[int] = field(default_factory=list)  # uv processes per run
    note: str = ""

    def cells(self) -> List[str]:
        fmt = (lambda v: f"{v:.0f}") if self.unit == "MiB" else (lambda v: f"{v:.2f}")
        if not self.values:
            return [self.scenario, "0", "-", "-", "-", "-", self.note]
        uv = "-" if not self.uv else (str(self.uv[0]) if len(set(self.uv)) == 1 else "/".join(map(str, self.uv)))
        return [self.scenario, str(len(self.values)), f"{fmt(statistics.median(self.values))} {self.unit}",
                f"{fmt(min(self.values))} {self.unit}", f"{fmt(max(self.values))} {self.unit}", uv, self.note]


class Table:
    def __init__(self) -> None:
        self.rows: Dict[str, Row] = {}

    def row(self, scenario: str, unit: str = "s", note: str = "") -> Row:
        if scenario not in self.rows:
            self.rows[scenario] = Row(scenario, unit, note=note)
        return self.rows[scenario]

    def add(self, scenario: str, value: float, uv: Optional[int] = None, unit: str = "s", note: str = "") -> None:
        row = self.row(scenario, unit, note)
        row.values.append(value)
        if uv is not None:
            row.uv.append(uv)
        log(f"{scenario}: {value:.2f} {unit}" + (f", uv processes: {uv}" if uv is not None else ""))

    def median(self, scenario: str) -> Optional[float]:
        row = self.rows.get(scenario)
        return statistics.median(row.values) if row and row.values else None

    def max(self, scenario: str) -> Optional[float]:
        row = self.rows.get(scenario)
        return max(row.values) if row and row.values else None

    def markdown(self) -> str:
        head = ["Scenario", "Runs", "Median", "Min", "Max", "uv processes", "Notes"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        lines += ["| " + " | ".join(r.cells()) + " |" for r in self.rows.values()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------------

# Config scale: one row per scale, named by `at_scale` ("`list ::`, pantsd warm (1,000 files)").
S_LIST_REF = "reference: `list ::` of the repo's own 2-codops example, no pantsd"
S_LIST_NO = "`list ::`, no pantsd (cold)"
S_LIST_RSS = "`list ::` no pantsd: peak RSS of the Pants process"
S_LIST_SHARE = "plugin share of a cold `list ::`"
S_LIST_FIRST = "`list ::`, pantsd first run (starts pantsd)"
S_LIST_WARM = "`list ::`, pantsd warm"
S_LIST_FLOOR = "`./pants --version`, pantsd warm (client floor)"
S_EDIT_CONFIG = "edit one config file, then `list ::`, pantsd warm"
S_EDIT_NOTEBOOK = "edit one notebook, then `list ::`, pantsd warm"
S_EDIT_REQ = "change a requirement in one config file, then `list ::`, pantsd warm"
S_PANTSD_RSS = "pantsd peak RSS (VmHWM) after these `list ::` runs"
S_PEEK_NO = "`peek` one environment, no pantsd (cold)"
S_PEEK_FIRST = "`peek` one environment, pantsd first run"
S_PEEK_WARM = "`peek` one environment, pantsd warm"
# Cold build.
S_COLD_PANTS = "cold `package ::` (pants, no pantsd)"
S_COLD_SEQ = "baseline: `uv lock` loop, sequential"
S_COLD_P2 = "baseline: `uv lock` loop, 2 at a time (`xargs -P2`)"
S_COLD_RATIO = "ratio pants / loop-2"
S_COLD_PANTSD = "cold `package ::`, pantsd already running (new ports, empty uv cache)"
S_COLD_RATIO_PANTSD = "ratio pants with pantsd / loop-2"
S_COLD_BACKENDS = ("cold `package ::` (pants, no pantsd) with this repository's own backends enabled too "
                   "(Python, plugin development)")
S_COLD_RATIO_BACKENDS = "ratio pants with this repository's backends / loop-2"
# Rebuilds.
S_BUILD50 = "initial build (pantsd, writes the remote cache; not a goal)"
S_CI = "fresh CI machine, warm remote cache: `package ::`, no pantsd"
S_CI_LOOP = "baseline: `uv lock` loop, 2 at a time, same environments, empty uv cache"
S_CI_RATIO = "ratio fresh CI machine / loop-2"
S_NOOP = "no-op `package ::`, pantsd warm"
S_VERSION = "reference: `./pants --version`, pantsd warm (client floor)"
S_SHOW = "`peach-show ::`, pantsd warm"
S_DRIFT = "`peach-drift ::`, pantsd warm"
S_NOOP_NO = "no-op `package ::`, no pantsd"
S_NOOP_BUDGET = "no-op `package ::`, pantsd warm, a size budget on every environment"
S_SIZES_PY = "sizes of every environment from its parsed `uv.lock`, plain Python (what a build whose locks all changed adds)"
S_EDIT_ONE = "one environment edited, pantsd warm"
S_EDIT_REF = "reference: bare `uv lock` of that environment, warm uv cache"
S_EDIT_BASE = "`base` of one codops edited, pantsd warm"
S_PANTSD_RSS_PKG = "pantsd peak RSS (VmHWM) after the package runs"
S_IMPORT = "import check of one small environment (`test --force`), warm uv cache, pantsd warm"
S_IMPORT_PROC = "its import-check process alone (install + imports)"
S_IMPORT_FLOOR = "reference: `./pants --version`, same pantsd (client floor)"
# The repo's own example against PyPI (`example`).
S_EX_NOOP = "example (PyPI): no-op `package ::`, pantsd warm"
S_EX_FLOOR = "example (PyPI): `./pants --version`, pantsd warm (client floor)"
S_EX_EDIT = "example (PyPI): one environment edited (a package added), pantsd warm"
S_EX_EDIT_REF = "example (PyPI): bare `uv lock` of that edit, from the environment's previous uv.lock"
S_EX_EDIT_FRESH = "example (PyPI): bare `uv lock` of that edit, from nothing (no uv.lock)"
S_EX_EDIT_OVER = "example (PyPI): one environment edited, minus its bare `uv lock` from the previous uv.lock"
S_EX_BASE = "example (PyPI): `base` edited (a package added; 3 environments), pantsd warm"
S_EX_BASE_REF = "example (PyPI): bare `uv lock` loop of those 3, 2 at a time, from their previous uv.locks"
S_EX_BASE_OVER = "example (PyPI): `base` edited, minus its loop"
# The same edits once the example commits its lockfiles (`generate-lockfiles`), with
# `[peach].stale_lockfile = "warn"`: each edit is one `uv lock` started from the committed lockfile.
S_EXC_EDIT = "example (PyPI), committed lockfiles: one environment edited, pantsd warm"
S_EXC_EDIT_REF = "example (PyPI), committed lockfiles: bare `uv lock` of that edit, from the committed uv.lock"
S_EXC_EDIT_OVER = "example (PyPI), committed lockfiles: one environment edited, minus its bare `uv lock`"
S_EXC_BASE = "example (PyPI), committed lockfiles: `base` edited (3 environments), pantsd warm"
S_EXC_BASE_REF = "example (PyPI), committed lockfiles: bare `uv lock` loop of those 3, 2 at a time, from the committed uv.locks"
S_EXC_BASE_OVER = "example (PyPI), committed lockfiles: `base` edited, minus its loop"


def at_scale(scenario: str, files: int) -> str:
    return f"{scenario} ({files:,} files)"


def scale_runs(files: int, runs: int) -> int:
    return min(runs, BIG_SCALE_RUNS) if files >= BIG_SCALE_FILES else runs


def peek_scale(scales: Sequence[int]) -> Optional[int]:
    """The scale with the `peek` rows: 1,000 files, or the largest smaller one measured."""
    smaller = [f for f in scales if f <= GOAL_SCALE]
    return max(smaller) if smaller else None


def scenario_config_scale(bench: Bench, template: Path, scales: Sequence[int], world: SynWorld, runs: int,
                          table: Table) -> str:
    """`list ::` (and `peek`) at each scale: without pantsd, first and warm pantsd runs, edits."""
    peek_at = peek_scale(scales)
    # The rows in a stable order, whatever the order of the measurements.
    table.row(S_LIST_REF, note="the same template checkout every run; measured once per run")
    for files in scales:
        few = f"{scale_runs(files, runs)} run(s) at this scale (at most {BIG_SCALE_RUNS} from {BIG_SCALE_FILES:,} files)"
        big = few if scale_runs(files, runs) < runs else ""
        table.row(at_scale(S_LIST_NO, files), note=big)
        table.row(at_scale(S_LIST_RSS, files), unit="MiB")
        table.row(at_scale(S_LIST_SHARE, files), note="per run: the cold `list ::` minus that run's reference")
        if files == peek_at:
            table.row(at_scale(S_PEEK_NO, files))
        table.row(at_scale(S_LIST_FIRST, files))
        table.row(at_scale(S_LIST_WARM, files))
        table.row(at_scale(S_LIST_FLOOR, files), note="the same pantsd as the `list ::` rows")
        table.row(at_scale(S_EDIT_CONFIG, files), note="a comment appended to an endpoint/task file")
        table.row(at_scale(S_EDIT_NOTEBOOK, files), note="a comment line appended to a code cell")
        table.row(at_scale(S_EDIT_REQ, files), note="`!=0.0.<run>` added to an environment's first requirement")
        table.row(at_scale(S_PANTSD_RSS, files), unit="MiB", note="after first, warm and the three edits")
        if files == peek_at:
            table.row(at_scale(S_PEEK_FIRST, files), note="a new pantsd")
            table.row(at_scale(S_PEEK_WARM, files))
    refs: List[float] = []
    descriptions = []
    for files in scales:
        n_codops = files // CFG_FILES_PER_CODOPS
        checkout = copy_checkout(bench, template, f"config-{files}")
        n_files, n_envs, n_items = config_scale_repo(checkout, n_codops, world, random.Random(SEED + 1))
        nb = n_codops * CFG_NOTEBOOKS_PER_CODOPS
        desc = (f"{n_files:,} config files: {n_codops:,} codops, {n_envs:,} declared environments "
                f"(+{n_codops:,} gateway), {n_items:,} endpoints + tasks, {nb:,} notebooks")
        log(f"config scale: {desc}")
        first = codops_name(0, n_codops)
        target = f"//:peach#{first}/e1"
        listed = bench.pants(checkout, ["list", "::"], pantsd=False)  # also checks that the configs are valid
        n_targets = len(listed.stdout.split())
        log(f"config scale: `list ::` lists {n_targets:,} targets (untimed first run, {listed.seconds:.1f} s)")
        if files == peek_at:
            peek = json.loads(bench.pants(checkout, ["peek", target], pantsd=False).stdout)
            if not peek or "requirements" not in peek[0]:
                raise BenchError(f"`peek {target}` printed no requirements")
        descriptions.append(f"{desc}; {n_targets:,} targets")
        for i in range(scale_runs(files, runs)):
            if i >= len(refs):
                refs.append(bench.pants(template, ["list", "::"], pantsd=False).seconds)
                table.add(S_LIST_REF, refs[i])
            r = bench.pants(checkout, ["list", "::"], pantsd=False)
            table.add(at_scale(S_LIST_NO, files), r.seconds)
            table.add(at_scale(S_LIST_RSS, files), r.maxrss_mib, unit="MiB")
            table.add(at_scale(S_LIST_SHARE, files), r.seconds - refs[i])
            if files == peek_at:
                table.add(at_scale(S_PEEK_NO, files), bench.pants(checkout, ["peek", target], pantsd=False).seconds)
            bench.stop_pantsd(checkout)
            table.add(at_scale(S_LIST_FIRST, files), bench.pants(checkout, ["list", "::"], pantsd=True).seconds)
            table.add(at_scale(S_LIST_WARM, files), bench.pants(checkout, ["list", "::"], pantsd=True).seconds)
            table.add(at_scale(S_LIST_FLOOR, files), bench.pants(checkout, ["--version"], pantsd=True).seconds)
            # Any config edit re-runs the generator of the one `peach_config` target over every config
            # file; a notebook edit re-reads that notebook (and re-checks its codops).
            edit_config(checkout / f"example/{codops_name(i % n_codops, n_codops)}/peach.conf/svc-00.yaml",
                        f"run {i}")
            table.add(at_scale(S_EDIT_CONFIG, files), bench.pants(checkout, ["list", "::"], pantsd=True).seconds)
            edit_notebook(checkout / f"example/{codops_name((i + 1) % n_codops, n_codops)}/notebooks/nb0.ipynb",
                          f"run {i}")
            r = bench.pants(checkout, ["list", "::"], pantsd=True)
            if len(r.stdout.split()) != n_targets:
                raise BenchError(f"after a notebook edit, `list ::` lists {len(r.stdout.split())} targets, "
                                 f"not {n_targets}")
            table.add(at_scale(S_EDIT_NOTEBOOK, files), r.seconds)
            edit_requirement(checkout / f"example/{codops_name((i + 2) % n_codops, n_codops)}/peach.conf/envs.yaml",
                             i + 1)
            r = bench.pants(checkout, ["list", "::"], pantsd=True)
            if len(r.stdout.split()) != n_targets:
                raise BenchError(f"after a requirement edit, `list ::` lists {len(r.stdout.split())} targets, "
                                 f"not {n_targets}")
            table.add(at_scale(S_EDIT_REQ, files), r.seconds)
            pid = bench.pantsd_pid(checkout)
            if pid is None:
                raise BenchError("pantsd is not running after a `--pantsd` run")
            table.add(at_scale(S_PANTSD_RSS, files), bench.vmhwm_mib(pid), unit="MiB")
            bench.stop_pantsd(checkout)
            if files == peek_at:
                table.add(at_scale(S_PEEK_FIRST, files), bench.pants(checkout, ["peek", target], pantsd=True).seconds)
                table.add(at_scale(S_PEEK_WARM, files), bench.pants(checkout, ["peek", target], pantsd=True).seconds)
                bench.stop_pantsd(checkout)
    return "; ".join(descriptions)


# This repository's own backends, which a platform repository does not enable (README, *Adopting peach*).
REPO_BACKENDS = "['pants.backend.python', 'pants.backend.plugin_development', 'peach']"
# Sections of this repository's pants.toml that configure those backends alone.
REPO_ONLY_SECTIONS = ("[python-infer]", "[pytest]")


def as_platform_repository(checkout: Path) -> None:
    """The checkout's `pants.toml` as a platform repository has it: the peach backend alone (as README
    *Adopting peach* sets it), the repository's peach settings kept. Pants' Python backend, which this
    repository enables for the plugin's own code and tests, about doubles Pants' start-up without pantsd
    (the `cold` scenario measures that too)."""
    path = checkout / "pants.toml"
    text = re.sub(r"^backend_packages = \[[^\]]*\]$", 'backend_packages = ["peach"]', path.read_text(),
                  count=1, flags=re.MULTILINE)
    sections = re.split(r"(?m)^(?=\[)", text)
    path.write_text("".join(part for part in sections if part.split("\n", 1)[0].strip() not in REPO_ONLY_SECTIONS))
    if 'backend_packages = ["peach"]' not in path.read_text():
        raise BenchError("could not set the checkout's backend_packages to peach alone")


def copy_checkout(bench: Bench, template: Path, name: str) -> Path:
    dest = bench.tmp / name
    shutil.copytree(template, dest, symlinks=True, ignore=shutil.ignore_patterns(".pants.d", ".pids", "dist"))
    bench.checkouts.append(dest)
    return dest


LOOP = r"""
set -euo pipefail
uv="$1"; py="$2"; mode="$3"; shift 3
if [[ "$mode" == seq ]]; then
  for d in "$@"; do "$uv" lock --directory "$d" --python "$py" --no-progress; done
else
  printf '%s\0' "$@" | xargs -0 -P2 -I{} "$uv" lock --directory {} --python "$py" --no-progress
fi
"""


def uv_env(scratch: Path) -> Dict[str, str]:
    """As Pants runs uv: private HOME and XDG config, an empty system uv.toml, a uv cache of its own."""
    for d in ("home", "config", "sysconfig/uv", "cache"):
        (scratch / d).mkdir(parents=True, exist_ok=True)
    (scratch / "sysconfig/uv/uv.toml").write_text("")
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch / "home"),
            "XDG_CONFIG_HOME": str(scratch / "config"), "XDG_CONFIG_DIRS": str(scratch / "sysconfig"),
            "UV_CACHE_DIR": str(scratch / "cache"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def uv_loop(bench: Bench, uv: Path, python: str, projects: Sequence[Path], mode: str, tag: str) -> Result:
    """The baseline: `uv lock` of the same pyprojects, from an empty uv cache, without Pants."""
    scratch = bench.tmp / f"loop-{tag}-{mode}"
    shutil.rmtree(scratch, ignore_errors=True)
    dirs = []
    for project in projects:
        dest = scratch / "projects" / project.parent.name / project.name
        dest.mkdir(parents=True)
        shutil.copy2(project / "pyproject.toml", dest / "pyproject.toml")
        dirs.append(str(dest))
    result = check(run(["bash", "-c", LOOP, "loop", str(uv), python, mode, *dirs], bench.tmp, uv_env(scratch)),
                   f"the {mode} uv lock loop")
    missing = [d for d in dirs if not (Path(d) / "uv.lock").is_file()]
    if missing:
        raise BenchError(f"the {mode} loop wrote no uv.lock in {missing}")
    return result


def empty_dir(path: Path) -> None:
    """Empty a directory but keep it: a running pantsd has created this named cache once and links
    sandboxes to it, so removing the directory itself would break every later uv run of that pantsd."""
    if path.is_dir():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def lock_sizes(dist: Path) -> List[int]:
    return [p.read_text().count("[[package]]") - 1 for p in dist.glob("peach/*/*/uv.lock")]  # minus the project


@dataclass(frozen=True)
class ColdRepo:
    """A checkout of `n_codops` realistic codops for cold builds, and the wheels of its two indexes."""

    checkout: Path
    n_codops: int
    private_dir: Path
    public_dir: Path

    @property
    def n_envs(self) -> int:
        return self.n_codops * 5  # base, 3 named, gateway

    @property
    def n_locks(self) -> int:
        """The `uv lock`s peach runs: each gateway inherits base alone and ships base's lock, renamed."""
        return self.n_codops * 4

    def description(self) -> str:
        packages = lock_sizes(self.checkout / "dist")
        return (f"{self.n_envs} environments ({self.n_codops} codops x base, 3 named, gateway); packages per "
                f"lock: min {min(packages)}, median {statistics.median(packages):.0f}, max {max(packages)}")


def cold_checkout(bench: Bench, template: Path, name: str, n_codops: int, world: SynWorld, seed: int,
                  private_dir: Path, public_dir: Path) -> ColdRepo:
    """A checkout of `n_codops` realistic codops (named `<name>NN`) for cold builds, with its pantsd
    running: Pants, its plugin, its interpreter discovery and the uv tool (its binary in Pants' store; uv.pex
    and its venv in the named cache, for a directory index) installed by an untimed build of a different, tiny repo, so no lock of the measured repo is
    cached."""
    checkout = copy_checkout(bench, template, name)
    reset_example(checkout)
    write(checkout, "example/warmup/peach.yaml", "codops: warmup\npy_environments:\n  base:\n    dependencies: [syn-l0-p00]\n")
    private, public = bench.start_indexes(private_dir, public_dir)
    log(f"{name}: warm-up run (untimed)")
    bench.pants(checkout, ["package", "::"], pantsd=True, env=index_env(private, public))
    bench.stop_indexes(private, public)
    realistic_repo(checkout, n_codops, world, random.Random(seed), name)
    return ColdRepo(checkout, n_codops, private_dir, public_dir)


def cold_package(bench: Bench, repo: ColdRepo, *, pantsd: bool, what: str,
                 env: Optional[Dict[str, Optional[str]]] = None) -> Tuple[Result, List[Path], Tuple[PypiServer, PypiServer]]:
    """A cold `package ::` (no `dist/`, Pants' `peach_uv` named cache empty) against index servers started
    on new ports, so every pyproject differs from any earlier run's and every lock is a cache miss.
    Returns the result, the environments' projects in `dist/peach` (which the baseline loops lock again)
    and the index servers, still running, for the caller to stop."""
    indexes = bench.start_indexes(repo.private_dir, repo.public_dir)
    shutil.rmtree(repo.checkout / "dist", ignore_errors=True)
    empty_dir(bench.named_caches / "peach_uv")
    log(what)
    r = bench.pants(repo.checkout, ["package", "::"], pantsd=pantsd, env={**index_env(*indexes), **(env or {})})
    if len(r.uv_locks()) != repo.n_locks:
        raise BenchError(f"expected {repo.n_locks} uv locks in a cold build, saw {len(r.uv_locks())}")
    projects = sorted(p for p in (repo.checkout / "dist/peach").glob("*/*") if p.is_dir())
    if len(projects) != repo.n_envs:
        raise BenchError(f"expected {repo.n_envs} projects in dist/peach, saw {len(projects)}")
    return r, projects, indexes


def scenario_cold(bench: Bench, template: Path, sizes: Sizes, world: SynWorld, private_dir: Path, public_dir: Path,
                  uv: Path, python: str, runs: int, table: Table) -> str:
    repo = cold_checkout(bench, template, "cold", sizes.cold_codops, world, SEED + 2, private_dir, public_dir)
    for i in range(runs):
        r, projects, indexes = cold_package(bench, repo, pantsd=False, what=f"cold build run {i + 1}/{runs}: pants")
        table.add(S_COLD_PANTS, r.seconds, uv=len(r.uv_locks()))
        description = repo.description()
        log(f"cold build run {i + 1}/{runs}: uv loop, sequential")
        seq = uv_loop(bench, uv, python, projects, "seq", str(i))
        table.add(S_COLD_SEQ, seq.seconds, uv=repo.n_envs)
        log(f"cold build run {i + 1}/{runs}: uv loop, 2 at a time")
        p2 = uv_loop(bench, uv, python, projects, "p2", str(i))
        table.add(S_COLD_P2, p2.seconds, uv=repo.n_envs)
        table.add(S_COLD_RATIO, r.seconds / p2.seconds, unit="x")
        bench.stop_indexes(*indexes)
        rb, _, indexes = cold_package(bench, repo, pantsd=False, env={"PANTS_BACKEND_PACKAGES": REPO_BACKENDS},
                                      what=f"cold build run {i + 1}/{runs}: pants, this repository's backends too")
        table.add(S_COLD_BACKENDS, rb.seconds, uv=len(rb.uv_locks()))
        table.add(S_COLD_RATIO_BACKENDS, rb.seconds / p2.seconds, unit="x")
        bench.stop_indexes(*indexes)
        # The same cold build through the pantsd started by the warm-up: no Pants start-up and no
        # interpreter discovery (memoized by pantsd), new ports and an empty uv cache again.
        rd, _, indexes = cold_package(bench, repo, pantsd=True,
                                      what=f"cold build run {i + 1}/{runs}: pants, pantsd already running")
        table.add(S_COLD_PANTSD, rd.seconds, uv=len(rd.uv_locks()))
        table.add(S_COLD_RATIO_PANTSD, rd.seconds / p2.seconds, unit="x")
        bench.stop_indexes(*indexes)
    bench.stop_pantsd(repo.checkout)
    table.rows[S_COLD_RATIO].note = "per run"
    table.rows[S_COLD_RATIO_PANTSD].note = "per run, against the same run's loop"
    return description


def at_envs(scenario: str, n_envs: int) -> str:
    return f"{scenario} ({n_envs:,} environments)"


def scenario_scale(bench: Bench, template: Path, sizes: Sizes, world: SynWorld, private_dir: Path,
                   public_dir: Path, uv: Path, python: str, runs: int, table: Table) -> str:
    """The cold build with pantsd running, at 10 times the `cold` scenario's size: how the cost grows once
    Pants' start-up is amortised. Each run: the cold `package ::`, then the two-at-a-time loop of the same
    projects against the same index servers, and their ratio."""
    repo = cold_checkout(bench, template, "scale", sizes.scale_codops, world, SEED + 6, private_dir, public_dir)
    for i in range(runs):
        rd, projects, indexes = cold_package(bench, repo, pantsd=True,
                                             what=f"scale run {i + 1}/{runs}: pants, pantsd already running")
        table.add(at_envs(S_COLD_PANTSD, repo.n_envs), rd.seconds, uv=rd.uv_processes(),
                  note="uv processes: the `uv lock`s and online platform checks (`uv pip compile`) Pants "
                       "logs; the offline platform checks log at debug level and are not counted")
        log(f"scale run {i + 1}/{runs}: uv loop, 2 at a time")
        p2 = uv_loop(bench, uv, python, projects, "p2", f"scale{i}")
        table.add(at_envs(S_COLD_P2, repo.n_envs), p2.seconds, uv=repo.n_envs)
        table.add(at_envs(S_COLD_RATIO_PANTSD, repo.n_envs), rd.seconds / p2.seconds, unit="x",
                  note="per run, against the same run's loop")
        bench.stop_indexes(*indexes)
    bench.stop_pantsd(repo.checkout)
    return repo.description() + f"; load average at its end {_loadavg()}"


def reference_lock(bench: Bench, uv: Path, python: str, project: Path, i: int) -> float:
    """Seconds of a bare `uv lock` of `project`, outside Pants, with a uv cache warmed by a first lock."""
    uv_loop(bench, uv, python, [project], "seq", f"ref{i}")  # the first lock fills this scratch's uv cache
    scratch = bench.tmp / f"loop-ref{i}-seq"
    lock_dir = scratch / "projects" / project.parent.name / project.name
    (lock_dir / "uv.lock").unlink()
    result = check(run([str(uv), "lock", "--directory", str(lock_dir), "--python", python, "--no-progress"],
                       bench.tmp, uv_env(scratch)), "the reference uv lock")
    return result.seconds


@dataclass(frozen=True)
class DriftCounts:
    """`peach-drift ::` of one repo with `[peach].align_environments` off and on."""

    repo: str
    environments: int
    off: Tuple[int, int]  # (drift, intended)
    on: Tuple[int, int]
    uv_off: int  # uv lock processes each run needed
    uv_on: int


def drift_counts(bench: Bench, checkout: Path, env: Dict[str, Optional[str]], repo: str) -> DriftCounts:
    """Both runs without pantsd; the run with alignment re-locks every named environment from its
    codops' base lock (more uv processes: expected)."""
    counts = []
    for align in ("false", "true"):
        log(f"drift of {repo}, align_environments={align}")
        r = bench.pants(checkout, ["peach-drift", "--peach-drift-format=json", "::"], pantsd=False,
                        env={**env, "PANTS_PEACH_ALIGN_ENVIRONMENTS": align})
        try:
            report = json.loads(r.stdout)
            n_envs = sum(len(c["environments"]) for c in report["codops"])
            counts.append(((report["drift_count"], report["intended_count"]), len(r.uv_locks()), n_envs))
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"`peach-drift --peach-drift-format=json ::` printed no drift report ({e}):\n"
                             f"{r.stdout[:2000]}") from None
    (off, uv_off, n_envs), (on, uv_on, _) = counts
    return DriftCounts(repo, n_envs, off, on, uv_off, uv_on)


def dist_locks(checkout: Path) -> Dict[str, bytes]:
    root = checkout / "dist/peach"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fresh_ci_machine(bench: Bench, checkout: Path, env: Dict[str, str], cache: BuildGridServer, tag: str) -> Result:
    """`package ::` without pantsd on a machine with nothing cached but the remote cache to read."""
    shutil.rmtree(checkout / "dist", ignore_errors=True)
    shutil.rmtree(checkout / ".pants.d", ignore_errors=True)
    root = bench.tmp / f"machine-{tag}"
    shutil.rmtree(root, ignore_errors=True)
    try:
        return bench.pants(checkout, ["package", "::"], pantsd=False,
                           env={**env, **remote_cache_env(cache), **new_machine_env(root)})
    finally:
        shutil.rmtree(root, ignore_errors=True)


def scenario_warm(bench: Bench, template: Path, sizes: Sizes, world: SynWorld, private_dir: Path, public_dir: Path,
                  uv: Path, python: str, runs: int, table: Table, bgd: Path, drifts: List[DriftCounts]) -> str:
    checkout = copy_checkout(bench, template, "warm")
    repo = realistic_repo(checkout, sizes.warm_codops, world, random.Random(SEED + 3), "warm")
    n_envs = sizes.warm_codops * sizes.envs_per_codops
    private, public = bench.start_indexes(private_dir, public_dir)
    env = index_env(private, public)
    cache = bench.start_remote_cache(bgd, bench.tmp / "remote-cache")
    notes = []
    # Machine A: the initial build fills the remote cache. Its pantsd is stopped right after: the
    # measured runs below start one without the remote-cache options (no remote lookups in them).
    log(f"warm: initial build of {n_envs} environments with pantsd, writing the remote cache")
    r = bench.pants(checkout, ["package", "::"], pantsd=True, env={**env, **remote_cache_env(cache)})
    table.add(S_BUILD50.replace("initial", f"initial {n_envs}-env"), r.seconds, uv=len(r.uv_locks()))
    bench.stop_pantsd(checkout)
    packages = lock_sizes(checkout / "dist")
    projects = sorted(p for p in (checkout / "dist/peach").glob("*/*") if p.is_dir())
    locks_a = dist_locks(checkout)
    # Copies of the repo as built: machine B (another path, another depth) and one for the drift counts.
    machine_b = copy_checkout(bench, checkout, "machine-b/ci/work/peach")
    aligned = copy_checkout(bench, checkout, "warm-align")

    # Machine B: a fresh CI machine, every run with a new HOME (Pants local store) and named caches,
    # the same launcher cache (so the same Pants venv and interpreter paths) and the same indexes.
    # An untimed first run uploads what machine A found in its local cache rather than ran (Pants'
    # own tool and plugin resolves, done by earlier scenarios): a CI fleet's cache holds those too.
    log("fresh CI machine: untimed first run")
    prime = fresh_ci_machine(bench, machine_b, env, cache, "b-prime")
    cached: List[str] = []
    same = True
    for i in range(runs):
        log(f"fresh CI machine, warm remote cache: run {i + 1}/{runs}")
        r = fresh_ci_machine(bench, machine_b, env, cache, f"b{i}")
        if r.uv_locks():
            counters = "\n".join(line.strip() for line in r.stderr.splitlines()
                                  if re.search(r"remote_cache_|local_execution_requests", line))
            raise BenchError(f"a fresh CI machine with a warm remote cache ran `uv lock` for {r.uv_locks()} "
                             f"(remote cache misses). Pants' counters:\n{counters}")
        table.add(S_CI, r.seconds, uv=0)
        hits, misses = r.stat("remote_cache_requests_cached"), r.stat("remote_cache_requests_uncached")
        plugins = r.phase_seconds("Resolving plugins")
        cached.append(f"{hits if hits is not None else '?'} hit(s)/{misses if misses is not None else '?'} miss(es)"
                      + (f", {r.uv_processes()} `uv pip compile` ran" if r.uv_processes() else "")
                      + (f", Pants' plugin resolve {plugins:.1f} s" if plugins is not None else ""))
        same = same and dist_locks(machine_b) == locks_a
        log(f"fresh CI machine run {i + 1}/{runs}: uv loop, 2 at a time, same {len(projects)} environments")
        loop = uv_loop(bench, uv, python, projects, "p2", f"ci{i}")
        table.add(S_CI_LOOP, loop.seconds, uv=len(projects))
        table.add(S_CI_RATIO, r.seconds / loop.seconds, unit="x")
    table.rows[S_CI].note = ("new HOME, local store and named caches each run; remote cache per run: "
                             + "; ".join(cached) + f"; dist/peach identical to machine A's: {'yes' if same else 'NO'}")
    table.rows[S_CI_RATIO].note = "per run, against the same run's loop"
    if prime.uv_locks():
        notes.append(f"the untimed first fresh-machine run ran {len(prime.uv_locks())} `uv lock`")

    log("rebuilds: untimed warm-up of a new pantsd")
    r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
    if r.uv_locks():
        notes.append(f"the pantsd warm-up after the initial build ran `uv lock` for {', '.join(r.uv_locks())}")
    for i in range(runs):
        r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
        table.add(S_NOOP, r.seconds, uv=len(r.uv_locks()))
    for i in range(runs):
        table.add(S_VERSION, bench.pants(checkout, ["--version"], pantsd=True, env=env).seconds)
    # Sizes: environments.json and lock-changes.json carry them on every build, from a memoized rule
    # over each lock's text; a budget on every environment adds the check to every environment's
    # package rule. An untimed warm-up first: changing an option reruns the rules that read `[peach]`.
    budget = ["--peach-size-budgets={'*': '1TiB'}", "package", "::"]
    r = bench.pants(checkout, budget, pantsd=True, env=env)
    for i in range(runs):
        r = bench.pants(checkout, budget, pantsd=True, env=env)
        table.add(S_NOOP_BUDGET, r.seconds, uv=len(r.uv_locks()))
    for i in range(runs):
        table.add(S_SIZES_PY, sizes_plain_python(checkout))
    table.rows[S_SIZES_PY].note = (f"{len(projects)} locks, the image's platform; in the Pants virtualenv's Python; "
                                   "a warm no-op reuses the memoized sizes")
    for i in range(runs):
        r = bench.pants(checkout, ["peach-show", "::"], pantsd=True, env=env)
        table.add(S_SHOW, r.seconds, uv=len(r.uv_locks()))
    for i in range(runs):
        r = bench.pants(checkout, ["peach-drift", "::"], pantsd=True, env=env)  # exit 0: no --peach-drift-fail
        table.add(S_DRIFT, r.seconds, uv=len(r.uv_locks()))
    table.rows[S_SHOW].note = table.rows[S_DRIFT].note = "all environments, text output; after the no-op runs"
    rng = random.Random(SEED + 4)
    codops_names = sorted(repo.envs)
    for i in range(runs):
        codops = codops_names[i % len(codops_names)]
        env_name = ("e1", "e2", "e3")[i % 3]
        have = repo.closure_names(codops, env_name)
        new = next(n for n in rng.sample(world.layers[0] + world.layers[1], len(world.layers[0]) * 2) if n not in have)
        repo.envs[codops][env_name].append(new)
        repo.write_codops(codops)
        r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
        table.add(S_EDIT_ONE, r.seconds, uv=len(r.uv_locks()))
        table.add(S_EDIT_REF, reference_lock(bench, uv, python, checkout / f"dist/peach/{codops}/{env_name}", i),
                  uv=1)
    for i in range(runs):
        codops = codops_names[(i + 1) % len(codops_names)]
        have = repo.closure_names(codops, "base")
        new = next(n for n in rng.sample(world.layers[0] + world.layers[1], len(world.layers[0]) * 2) if n not in have)
        repo.envs[codops]["base"].append(new)
        repo.write_codops(codops)
        r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
        table.add(S_EDIT_BASE, r.seconds, uv=len(r.uv_locks()))
    pid = bench.pantsd_pid(checkout)
    if pid is not None:
        table.add(S_PANTSD_RSS_PKG, bench.vmhwm_mib(pid), unit="MiB")
    bench.stop_pantsd(checkout)
    for i in range(runs):
        r = bench.pants(checkout, ["package", "::"], pantsd=False, env=env)
        table.add(S_NOOP_NO, r.seconds, uv=len(r.uv_locks()))
    # Last, on the copy of the repo as first built (the same configs as the no-op runs): drift with
    # alignment off, then on (which re-locks every named environment from its codops' base lock).
    drifts.append(drift_counts(bench, aligned, env, f"{n_envs}-env repo ({sizes.warm_codops} codops)"))
    bench.stop_remote_cache(cache)
    bench.stop_indexes(private, public)
    return (f"{n_envs} environments ({sizes.warm_codops} codops x base, 3 named, gateway); packages per lock: "
            f"min {min(packages)}, median {statistics.median(packages):.0f}, max {max(packages)}"
            + "".join(f"; {n}" for n in notes))


def scenario_importcheck(bench: Bench, template: Path, world: SynWorld, private_dir: Path, public_dir: Path,
                         runs: int, table: Table) -> str:
    """`pants test` of one codops' `base` environment: its lock installed into a fresh venv and every
    direct requirement imported, each in a fresh interpreter. An untimed first run fills uv's cache
    with the wheels; `--force` makes every timed run install and import again (no cached result)."""
    checkout = copy_checkout(bench, template, "importcheck")
    repo = realistic_repo(checkout, 1, world, random.Random(SEED + 5), "imp")
    codops = sorted(repo.envs)[0]
    target = f"//:peach#{codops}/base"
    private, public = bench.start_indexes(private_dir, public_dir)
    # This repo's pants.toml skips every environment (its example locks live PyPI); a platform
    # repository checks them all.
    env = {**index_env(private, public), "PANTS_PEACH_IMPORT_CHECK_SKIP_ENVIRONMENTS": "[]"}
    log(f"import check: untimed first run of {target} (locks it, fills uv's cache)")
    bench.pants(checkout, ["test", target], pantsd=True, env=env)
    direct = ""
    for i in range(runs):
        r = bench.pants(checkout, ["test", "--force", "--test-output=all", target], pantsd=True, env=env)
        table.add(S_IMPORT, r.seconds, uv=len(re.findall(r"Completed: peach import check ", r.stderr)))
        found = re.search(r"all (\d+) importable direct requirement", r.stderr)
        if not found:
            raise BenchError(f"the import check of {target} did not run:\n{r.stderr[-3000:]}")
        direct = found.group(1)
        m = re.search(r"succeeded in ([\d.]+)s", r.stderr)
        if m:
            table.add(S_IMPORT_PROC, float(m.group(1)))
        table.add(S_IMPORT_FLOOR, bench.pants(checkout, ["--version"], pantsd=True, env=env).seconds)
    bench.stop_pantsd(checkout)
    bench.stop_indexes(private, public)
    return (f"{target}: {direct} direct requirements imported (injected and framework stack included), "
            f"{len(repo.closure_names(codops, 'base'))} packages in its closure")


_SIZES_SCRIPT = """\
import glob, sys, time
from peach.insight.sizes import lock_size
from peach.uv.lockfile import parse_lock
from peach.uv.platforms import parse_platform
locks = [parse_lock(open(p).read()) for p in sorted(glob.glob(sys.argv[1] + "/dist/peach/*/*/uv.lock"))]
platforms = [parse_platform("x86_64-manylinux_2_28")]
start = time.perf_counter()
for lock in locks:
    lock_size(lock, platforms, "3.11")
print(time.perf_counter() - start)
"""


def sizes_plain_python(checkout: Path) -> float:
    """Seconds to size every lock in `checkout`'s dist/ once parsed, as the lock rule does, without Pants."""
    python = Path(launcher_cache()) / "pants-2.17.1/bin/python"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(checkout / "pants-plugins"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([str(python), "-W", "ignore", "-c", _SIZES_SCRIPT, str(checkout)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise BenchError(f"sizing the locks failed:\n{proc.stderr[-3000:]}")
    return float(proc.stdout.strip())


# Packages added by the edits of the `example` scenario: small, pure-Python, and (but `click`, which
# the environment already gets through ray) not in the environment's lock, one edit each.
EXAMPLE_EDITS = ("rich", "colorama", "click")
EXAMPLE_BASE_EDITS = ("humanize", "toolz", "tomli-w")
EXAMPLE_CODOPS, EXAMPLE_ENV = "debr", "reporting"
TLS_AND_PROXY = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
                 "https_proxy", "http_proxy", "no_proxy")


def add_requirement(config: Path, environment: str, requirement: str) -> None:
    """Add `requirement` as the first dependency of `environment` in a peach.yaml (text edit, so the
    rest of the file stays as it is)."""
    lines = config.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == f"{environment}:")
    deps = next(i for i in range(at, len(lines)) if lines[i].strip() == "dependencies:")
    indent = lines[deps + 1][:len(lines[deps + 1]) - len(lines[deps + 1].lstrip())]
    lines.insert(deps + 1, f"{indent}- {requirement}\n")
    config.write_text("".join(lines))


def bare_edit_locks(bench: Bench, uv: Path, python: str, checkout: Path, envs: Sequence[str],
                    before: Dict[str, bytes], tag: str, mode: str, start: bool) -> Result:
    """The same edit without Pants: the edited pyproject.toml of each environment (as the build just
    wrote it) with its lock of before the edit (`start`) or without one, locked by a bare `uv lock`
    (`mode`: `seq`, or `p2` two at a time) with the uv cache Pants' uv processes use (warm).

    The projects lie at the depth of `dist/peach/<codops>/<env>`, so the relative path of the
    example's private index in the pyproject and the lock still points at it."""
    root = checkout / ".bench-ref" / tag
    shutil.rmtree(root, ignore_errors=True)
    dirs = []
    for env_name in envs:
        dest = root / env_name
        dest.mkdir(parents=True)
        shutil.copy2(checkout / "dist/peach" / env_name / "pyproject.toml", dest / "pyproject.toml")
        if start:
            (dest / "uv.lock").write_bytes(before[env_name])
        dirs.append(str(dest))
    env = uv_env(bench.tmp / f"uv-{tag}")
    env["UV_CACHE_DIR"] = str(bench.named_caches / "peach_uv")
    # As Pants' uv processes get them (`peach.uv.tool.PASSED_ENV`): TLS trust and proxies, for PyPI.
    env.update({k: v for k, v in os.environ.items() if k in TLS_AND_PROXY and v})
    return check(run(["bash", "-c", LOOP, "loop", str(uv), python, mode, *dirs], checkout, env),
                 f"the bare uv lock of the {tag} edit")


def example_locks(checkout: Path, name: str = "uv.lock") -> Dict[str, bytes]:
    return {f"{p.parent.parent.name}/{p.parent.name}": p.read_bytes() for p in (checkout / "dist/peach").glob(f"*/*/{name}")}


def example_edits(bench: Bench, checkout: Path, env: Dict[str, Optional[str]], uv: Path, python: str, runs: int,
                  table: Table, tag: str, one: Tuple[str, str, str], base: Tuple[str, str, str]) -> None:
    """Edits of one environment and of `base` (a package added, one per run, each from the example as
    committed), each against the bare `uv lock`s of the same edited projects from the same locks."""
    config = checkout / "example" / EXAMPLE_CODOPS / "peach.yaml"
    original = config.read_text()
    edits = [(EXAMPLE_ENV, p, *one) for p in EXAMPLE_EDITS[:runs]]
    edits += [("base", p, *base) for p in EXAMPLE_BASE_EDITS[:runs]]
    for n, (environment, package, row, ref_row, over_row) in enumerate(edits):
        before, projects = example_locks(checkout), example_locks(checkout, "pyproject.toml")
        log(f"example (PyPI){' with committed lockfiles' if tag else ''}: {package} added to "
            f"{EXAMPLE_CODOPS}/{environment}")
        add_requirement(config, environment, package)
        r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
        # The environments whose project changed (a gateway's among them when base is edited, although
        # peach ships base's lock for it): the bare reference locks each of them, as a loop would.
        edited = sorted(e for e, text in example_locks(checkout, "pyproject.toml").items() if projects.get(e) != text)
        if not r.uv_locks() or not edited:
            raise BenchError(f"adding {package} to {EXAMPLE_CODOPS}/{environment} locked nothing")
        table.add(row, r.seconds, uv=r.uv_processes())
        mode = "seq" if len(edited) == 1 else "p2"
        ref = bare_edit_locks(bench, uv, python, checkout, edited, before, f"{tag}e{n}", mode, start=True)
        table.add(ref_row, ref.seconds, uv=len(edited))
        table.add(over_row, r.seconds - ref.seconds)
        if environment == EXAMPLE_ENV and not tag:
            fresh = bare_edit_locks(bench, uv, python, checkout, edited, before, f"f{n}", mode, start=False)
            table.add(S_EX_EDIT_FRESH, fresh.seconds, uv=len(edited))
        config.write_text(original)  # back to the starting state (its results are cached)
        bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
    table.rows[one[0]].note = f"one package per run: {', '.join(EXAMPLE_EDITS[:runs])}; uv = uv processes"
    table.rows[base[0]].note = f"one package per run: {', '.join(EXAMPLE_BASE_EDITS[:runs])}"
    table.rows[one[2]].note = table.rows[base[2]].note = "per run"


def scenario_example(bench: Bench, template: Path, drifts: List[DriftCounts], uv: Path, python: str, runs: int,
                     table: Table) -> str:
    """The repo's own example, locked as the repo configures it: the private index
    `example/private-index`, the public index PyPI (network!), the default injected requirements.

    A warm no-op, edits of one environment and of `base` (each a package added, one package per run,
    each from the example as committed), each against bare `uv lock`s of the same edited projects
    from the same locks, with the same (warm) uv cache, right after it; then the drift counts."""
    checkout = copy_checkout(bench, template, "example")
    # A Pants local store of its own: the user's store may hold these very edits' locks from an
    # earlier run (the process cache is keyed by the pyproject, which is the same every run).
    env: Dict[str, Optional[str]] = {"PANTS_PEACH_INJECTED_REQUIREMENTS": None,
                                     "PANTS_LOCAL_STORE_DIR": str(bench.tmp / "example-store")}
    log("example (PyPI): initial build with pantsd (untimed)")
    bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
    bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
    for i in range(runs):
        r = bench.pants(checkout, ["package", "::"], pantsd=True, env=env)
        table.add(S_EX_NOOP, r.seconds, uv=r.uv_processes())
        table.add(S_EX_FLOOR, bench.pants(checkout, ["--version"], pantsd=True, env=env).seconds)
    example_edits(bench, checkout, env, uv, python, runs, table, "",
                  (S_EX_EDIT, S_EX_EDIT_REF, S_EX_EDIT_OVER), (S_EX_BASE, S_EX_BASE_REF, S_EX_BASE_OVER))
    # The same edits with the example's lockfiles committed, as a uv project commits its uv.lock: an
    # edit makes the committed lockfile stale and `stale_lockfile = "warn"` ships the lock made from it.
    resolves = [f"--resolve=peach/{EXAMPLE_CODOPS}/{e}" for e in sorted(
        p.parent.name for p in (checkout / "dist/peach" / EXAMPLE_CODOPS).glob("*/uv.lock"))]
    log(f"example (PyPI): committing the lockfiles of {EXAMPLE_CODOPS} (untimed)")
    bench.pants(checkout, ["generate-lockfiles", *resolves], pantsd=True, env=env)
    committed_env = {**env, "PANTS_PEACH_STALE_LOCKFILE": "warn"}
    bench.pants(checkout, ["package", "::"], pantsd=True, env=committed_env)
    example_edits(bench, checkout, committed_env, uv, python, runs, table, "c",
                  (S_EXC_EDIT, S_EXC_EDIT_REF, S_EXC_EDIT_OVER), (S_EXC_BASE, S_EXC_BASE_REF, S_EXC_BASE_OVER))
    shutil.rmtree(checkout / "3rdparty/peach/locks", ignore_errors=True)
    bench.stop_pantsd(checkout)
    counts = drift_counts(bench, checkout, env, "the repo's own example (PyPI)")
    drifts.append(counts)
    return f"{counts.environments} environments, locked against PyPI"


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------


def machine(template: Path, bench: Bench, uv: Path, python: str) -> List[str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    pants_version = bench.pants(template, ["--version"], pantsd=False).stdout.strip()
    uv_version = subprocess.run([str(uv), "--version"], capture_output=True, text=True).stdout.strip()
    py311 = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
    return [
        f"- CPU: {cpu}; `nproc`: {len(os.sched_getaffinity(0))}; memory: {mem_kib / 1024 / 1024:.1f} GiB; "
        f"{platform.system()} {platform.release()}; load average at start: {_loadavg()}",
        f"- Pants {pants_version} (the repo's `./pants` launcher, CPython 3.9); uv {uv_version.split()[1]} "
        f"(Pants' `[uv]` tool and the baseline loop); locks for {py311}; benchmark driver: "
        f"Python {platform.python_version()}",
    ]


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass(frozen=True)
class Goal:
    text: str
    scenario: str  # the row whose value is shown as measured
    test: Callable[[Table], bool]
    how: str
    needs: Tuple[Tuple[str, str], ...] = ()  # (label, row): other rows the verdict uses; their medians are shown
    agg: str = "median"  # or "max"


def _at(scenario: str, files: int = GOAL_SCALE) -> str:
    return at_scale(scenario, files)


GOALS: List[Goal] = [
    Goal("warm no-op of 50 envs < 1.5 s, zero uv processes", S_NOOP,
         lambda t: _all_uv(t, S_NOOP, 0) and t.median(S_NOOP) < 1.5, "median"),
    # "One uv lock + < 2 s": the time beyond a bare warm-cache `uv lock` of the same environment.
    Goal("one edited env: one uv lock + < 2 s", S_EDIT_ONE,
         lambda t: _all_uv(t, S_EDIT_ONE, 1) and t.median(S_EDIT_ONE) - t.median(S_EDIT_REF) < 2.0,
         "median; the bare `uv lock` reference is subtracted for the verdict", (("bare `uv lock`", S_EDIT_REF),)),
    Goal("size budgets on every environment add < 0.1 s to the warm no-op `package ::`", S_NOOP_BUDGET,
         lambda t: _all_uv(t, S_NOOP_BUDGET, 0) and t.median(S_NOOP_BUDGET) - t.median(S_NOOP) < 0.1, "median",
         (("no-op", S_NOOP),)),
    Goal("`peach-show ::` within 1 s of the warm no-op `package ::`", S_SHOW,
         lambda t: t.median(S_SHOW) - t.median(S_NOOP) <= 1.0, "median", (("no-op", S_NOOP),)),
    Goal("`peach-drift ::` within 1 s of the warm no-op `package ::`", S_DRIFT,
         lambda t: t.median(S_DRIFT) - t.median(S_NOOP) <= 1.0, "median", (("no-op", S_NOOP),)),
    Goal("fresh CI machine, warm remote cache: <= no-op without pantsd + 3 s, zero uv lock", S_CI,
         lambda t: _all_uv(t, S_CI, 0) and t.median(S_CI) <= t.median(S_NOOP_NO) + 3.0, "median",
         (("no-op without pantsd", S_NOOP_NO),)),
    Goal("fresh CI machine, warm remote cache: < 0.5 x the two-at-a-time loop (same environments)", S_CI_RATIO,
         lambda t: t.median(S_CI_RATIO) < 0.5, "median of per-run ratios"),
    Goal("cold build <= 1.25 x the two-at-a-time loop (no pantsd)", S_COLD_RATIO,
         lambda t: t.median(S_COLD_RATIO) <= 1.25, "median of per-run ratios"),
    Goal("cold build <= 1.0 x the two-at-a-time loop (pantsd running)", S_COLD_RATIO_PANTSD,
         lambda t: t.median(S_COLD_RATIO_PANTSD) <= 1.0, "median of per-run ratios"),
    Goal(f"cold build of {SCALE_ENVS} environments <= 0.9x the two-at-a-time loop (pantsd running)",
         at_envs(S_COLD_RATIO_PANTSD, SCALE_ENVS),
         lambda t: t.median(at_envs(S_COLD_RATIO_PANTSD, SCALE_ENVS)) <= 0.9, "median of per-run ratios",
         (("pants", at_envs(S_COLD_PANTSD, SCALE_ENVS)), ("loop-2", at_envs(S_COLD_P2, SCALE_ENVS)))),
    Goal("import check of one small environment from a warm uv cache < 5 s", S_IMPORT,
         lambda t: t.median(S_IMPORT) < 5.0, "median, the whole `pants test --force` with pantsd warm",
         (("its process alone", S_IMPORT_PROC), ("client floor", S_IMPORT_FLOOR))),
    Goal("example (PyPI): one edited env <= its bare `uv lock` (from its previous lock) + 1.0 s", S_EX_EDIT_OVER,
         lambda t: t.median(S_EX_EDIT_OVER) <= 1.0, "median of per-run differences",
         (("edit", S_EX_EDIT), ("bare `uv lock`", S_EX_EDIT_REF), ("bare, from nothing", S_EX_EDIT_FRESH))),
    Goal("example (PyPI): `base` edited <= the two-at-a-time loop of its locks + 1.0 s", S_EX_BASE_OVER,
         lambda t: t.median(S_EX_BASE_OVER) <= 1.0, "median of per-run differences",
         (("edit", S_EX_BASE), ("loop", S_EX_BASE_REF))),
    Goal("example (PyPI), committed lockfiles: one edited env <= its bare `uv lock` (from the committed lock) + 1.0 s",
         S_EXC_EDIT_OVER, lambda t: t.median(S_EXC_EDIT_OVER) <= 1.0, "median of per-run differences",
         (("edit", S_EXC_EDIT), ("bare `uv lock`", S_EXC_EDIT_REF))),
    Goal("example (PyPI), committed lockfiles: `base` edited <= the two-at-a-time loop of its locks + 1.0 s",
         S_EXC_BASE_OVER, lambda t: t.median(S_EXC_BASE_OVER) <= 1.0, "median of per-run differences",
         (("edit", S_EXC_BASE), ("loop", S_EXC_BASE_REF))),
    Goal("example (PyPI): warm no-op <= client floor + 0.2 s, zero uv processes", S_EX_NOOP,
         lambda t: _all_uv(t, S_EX_NOOP, 0) and t.median(S_EX_NOOP) <= t.median(S_EX_FLOOR) + 0.2, "median",
         (("floor", S_EX_FLOOR),)),
    Goal("pantsd < 1 GiB after the 50-env package runs", S_PANTSD_RSS_PKG,
         lambda t: t.max(S_PANTSD_RSS_PKG) < 1024, "max VmHWM", agg="max"),
    Goal(f"{GOAL_SCALE:,} files: edit one config file, then `list ::` <= client floor + 0.5 s",
         _at(S_EDIT_CONFIG), lambda t: t.median(_at(S_EDIT_CONFIG)) <= t.median(_at(S_LIST_FLOOR)) + 0.5,
         "median", (("floor", _at(S_LIST_FLOOR)),)),
    Goal(f"{GOAL_SCALE:,} files: edit one notebook, then `list ::` <= client floor + 0.5 s",
         _at(S_EDIT_NOTEBOOK), lambda t: t.median(_at(S_EDIT_NOTEBOOK)) <= t.median(_at(S_LIST_FLOOR)) + 0.5,
         "median", (("floor", _at(S_LIST_FLOOR)),)),
    Goal(f"{GOAL_SCALE:,} files: change a requirement, then `list ::` <= client floor + 0.5 s",
         _at(S_EDIT_REQ), lambda t: t.median(_at(S_EDIT_REQ)) <= t.median(_at(S_LIST_FLOOR)) + 0.5,
         "median", (("floor", _at(S_LIST_FLOOR)),)),
    Goal(f"{GOAL_SCALE:,} files: plugin share of a cold `list ::` < 1 s", _at(S_LIST_SHARE),
         lambda t: t.median(_at(S_LIST_SHARE)) < 1.0, "median of per-run differences",
         (("cold", _at(S_LIST_NO)), ("reference", S_LIST_REF))),
    Goal(f"{GOAL_SCALE:,} files: pantsd < 1 GiB", _at(S_PANTSD_RSS),
         lambda t: t.max(_at(S_PANTSD_RSS)) < 1024, "max VmHWM", agg="max"),
    Goal(f"{GOAL_BIG_SCALE:,} files: `list ::` pantsd warm < 5 s", _at(S_LIST_WARM, GOAL_BIG_SCALE),
         lambda t: t.median(_at(S_LIST_WARM, GOAL_BIG_SCALE)) < 5.0, "median"),
    Goal(f"{GOAL_BIG_SCALE:,} files: pantsd < 2 GiB", _at(S_PANTSD_RSS, GOAL_BIG_SCALE),
         lambda t: t.max(_at(S_PANTSD_RSS, GOAL_BIG_SCALE)) < 2048, "max VmHWM", agg="max"),
]


def _all_uv(table: Table, scenario: str, expected: int) -> bool:
    return all(n == expected for n in table.rows[scenario].uv)


def _fmt(value: float, unit: str) -> str:
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.2f}x" if unit == "x" else f"{value:.2f} {unit}"


def goals_markdown(table: Table) -> str:
    lines = ["| Goal | Measured | Result |", "|---|---|---|"]
    for goal in GOALS:
        rows = [table.rows.get(goal.scenario), *(table.rows.get(r) for _, r in goal.needs)]
        if any(row is None or not row.values for row in rows):
            lines.append(f"| {goal.text} | not measured | - |")
            continue
        row = rows[0]
        value = max(row.values) if goal.agg == "max" else statistics.median(row.values)
        measured = f"{_fmt(value, row.unit)} ({goal.how})"
        for (label, _), other in zip(goal.needs, rows[1:]):
            measured += f"; {label}: {_fmt(statistics.median(other.values), other.unit)}"
        if row.uv:
            measured += f", uv processes {'/'.join(map(str, row.uv))}"
        lines.append(f"| {goal.text} | {measured} | {'pass' if goal.test(table) else 'FAIL'} |")
    return "\n".join(lines)


def drift_markdown(drifts: Sequence[DriftCounts]) -> str:
    lines = ["Drift (`peach-drift :: --peach-drift-format=json`): packages that one codops' environments lock at "
             "different versions, as drift / intended, with `[peach].align_environments` off / on "
             "(`PANTS_PEACH_ALIGN_ENVIRONMENTS=true`).",
             "",
             "| Repo | Environments | align off: drift / intended | align on: drift / intended "
             "| `uv lock` processes (off / on) |",
             "|---|---|---|---|---|"]
    for d in drifts:
        lines.append(f"| {d.repo} | {d.environments} | {d.off[0]} / {d.off[1]} | {d.on[0]} / {d.on[1]} "
                     f"| {d.uv_off} / {d.uv_on} |")
    return "\n".join(lines)


def profile_config(files: int, tmp: Path) -> int:
    """`--profile FILES`: where the plugin's time goes when it reads a config-scale repo of FILES files
    (`profile_config.py`: its steps timed, then cProfile), in plain Python without Pants."""
    deps = tmp / "profile-deps"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(deps), *PROFILE_DEPS], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"pip install {' '.join(PROFILE_DEPS)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    repo = tmp / "profile-repo"
    (repo / "3rdparty/peach").mkdir(parents=True)
    n_codops = files // CFG_FILES_PER_CODOPS
    world = build_syn_world(None, FULL.world_packages, random.Random(SEED))
    n_files, n_envs, n_items = config_scale_repo(repo, n_codops, world, random.Random(SEED + 1))
    log(f"profile: {n_files:,} config files, {n_codops:,} codops, {n_envs:,} environments, {n_items:,} endpoints + tasks")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join((str(deps), str(REPO_ROOT / "pants-plugins")))}
    proc = subprocess.run([sys.executable, str(HERE / "profile_config.py"), str(repo), "--injected", INJECTED],
                          capture_output=True, text=True, env=env)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        raise BenchError(f"profile_config.py failed:\n{proc.stderr[-3000:]}")
    return 0


# The plugin's pure dependencies, as its resolve pins them (3rdparty/python/BUILD).
PROFILE_DEPS = ("PyYAML>=6,<7", "packaging==21.3")


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


SCENARIOS = ("config", "cold", "warm", "example", "importcheck", "scale")
QUICK_SCENARIOS = ("config", "cold", "warm", "scale")


def parse_scales(text: str) -> Tuple[int, ...]:
    try:
        scales = tuple(int(part.replace("_", "").replace(",", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not scales or any(f < CFG_FILES_PER_CODOPS or f % CFG_FILES_PER_CODOPS for f in scales):
        raise argparse.ArgumentTypeError(f"each scale is a number of config files, a multiple of {CFG_FILES_PER_CODOPS}")
    return scales


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one run each, no `example` scenario unless named with --only: a smoke run")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3, or 1 with --quick)")
    parser.add_argument("--scale-runs", type=int, default=1,
                        help="runs of the `scale` scenario (default 1: a run is a cold build of 200 environments and "
                             "the loop of the same locks, about 12 minutes)")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--scales", type=parse_scales, default=None, metavar="FILES,FILES,...",
                        help="config scales, in config files (10 per codops); default 100,1000,10000, or 10,100 "
                             "with --quick")
    parser.add_argument("--buildgrid", type=Path, default=None, metavar="BGD",
                        help="the `bgd` of an installed BuildGrid, instead of installing one (needs Python 3.11)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--profile", type=parse_scales, default=None, metavar="FILES",
                        help="instead of the benchmark: where the plugin's time goes when it reads a generated "
                             "repo of FILES config files (its steps timed, then cProfile), without Pants")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (checkouts, indexes)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    scales = args.scales or sizes.cfg_files
    runs = args.runs or (1 if args.quick else 3)
    only = set(args.only or (QUICK_SCENARIOS if args.quick else SCENARIOS))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="peach-bench-"))
    if args.profile:
        try:
            return profile_config(args.profile[0], tmp)
        except BenchError as e:
            log(f"FAILED: {e}")
            return 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    bench = Bench(tmp, tmp / "named_caches")
    table = Table()
    notes: List[str] = []
    drifts: List[DriftCounts] = []
    started = time.monotonic()
    info: List[str] = []
    failed: Optional[str] = None
    try:
        log(f"working in {tmp}; installing {', '.join(TOOLS)} from PyPI")
        uv = install_tools(tmp / "tools")
        python = python311()
        bgd = args.buildgrid
        if "warm" in only and bgd is None:
            log("installing BuildGrid (the remote cache) into a Python 3.11 venv")
            try:
                bgd = install_buildgrid(tmp / "buildgrid", python)
            except (AssertionError, subprocess.SubprocessError) as e:
                raise BenchError(f"installing BuildGrid failed: {str(e)[-3000:]}") from None
        log("fresh checkout of the repo")
        template = fresh_checkout(tmp / "template")
        as_platform_repository(template)
        bench.checkouts.append(template)
        info = machine(template, bench, uv, python)
        log("building the index world")
        world_root = tmp / "indexes"
        built = build_world(world_root)
        syn = build_syn_world(built.public_dir, sizes.world_packages, random.Random(SEED))
        n_wheels = len(list(built.public_dir.glob("*.whl")))
        notes.append(f"- Indexes: two pypiserver 2.0.1 on 127.0.0.1 (private: {len(list(built.private_dir.glob('*.whl')))}"
                     f" wheels; public: {n_wheels} wheels, of which {sum(map(len, syn.layers))} synthetic packages x "
                     f"{len(VERSIONS)} versions in {LAYERS} layers with seeded random dependency edges).")
        if "config" in only:
            notes.append("- Config scale: " + scenario_config_scale(bench, template, scales, syn, runs, table) + ".")
        if "cold" in only:
            notes.append("- Cold build: " + scenario_cold(bench, template, sizes, syn, built.private_dir,
                                                          built.public_dir, uv, python, runs, table) + ".")
        if "scale" in only:
            notes.append("- Scale: " + scenario_scale(bench, template, sizes, syn, built.private_dir,
                                                      built.public_dir, uv, python, args.scale_runs, table) + ".")
        if "warm" in only:
            assert bgd is not None
            notes.append("- Rebuilds: " + scenario_warm(bench, template, sizes, syn, built.private_dir,
                                                        built.public_dir, uv, python, runs, table, bgd, drifts) + ".")
        if "importcheck" in only:
            notes.append("- Import check: " + scenario_importcheck(bench, template, syn, built.private_dir,
                                                                   built.public_dir, runs, table) + ".")
        if "example" in only:
            try:
                notes.append("- Example: " + scenario_example(bench, template, drifts, uv, python, runs, table) + ".")
            except BenchError as e:  # it needs PyPI: not measured without it, the rest of the report stands
                log(f"example: {e}")
                notes.append(f"- Example: not measured: {str(e).splitlines()[0]}")
    except BenchError as e:
        failed = str(e)
        log(f"FAILED: {failed}")
    finally:
        bench.cleanup()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    command = "python3 tests/benchmark/bench.py" + (" --quick" if args.quick else "") + (
        f" --runs {args.runs}" if args.runs else "") + "".join(f" --only {o}" for o in args.only or ()) + (
        f" --scales {','.join(map(str, args.scales))}" if args.scales else "") + (
        f" --scale-runs {args.scale_runs}" if args.scale_runs != 1 else "")
    report = "\n".join([
        f"Command: `{command}` ({runs} run(s) per scenario, total {(time.monotonic() - started) / 60:.1f} min)",
        "",
        *info,
        *notes,
        "",
        table.markdown(),
        "",
        *([drift_markdown(drifts), ""] if drifts else []),
        goals_markdown(table),
        "",
    ])
    if failed:
        report += f"\nThe benchmark stopped early: {failed.splitlines()[0]}\n"
    print(report)
    if args.output:
        args.output.write_text(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
