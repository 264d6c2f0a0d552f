"""Where the plugin's time goes when it reads a repo's configs: the steps `peach_config`'s rules run
(parse each file, merge each codops, read each notebook, find its decorators, check), timed one by
one and then under cProfile, in plain Python, without Pants.

    python profile_config.py REPO [--top N]

REPO is a checkout whose `example/` holds the configs (as `bench.py --profile` generates them). The
settings are the ones the benchmark gives Pants: its injected requirements and the checkout's
`3rdparty/peach/framework-stack.txt`. Needs the plugin's pure modules (`pants-plugins` on
PYTHONPATH), PyYAML and packaging; `bench.py --profile` runs it with them.
"""
from __future__ import annotations

import argparse
import ast
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

from peach.config import (
    Model,
    check_notebooks,
    group,
    make_settings,
    merge_one,
    parse_file,
    read_notebook,
)
from peach.config.decorators import check_decorators, find_decorated
from peach.config.requirements import parse_requirement


def pipeline(repo: Path, injected: List[str], steps: Dict[str, float]) -> int:
    """Every step of `read_configs.peach_model`, in its order; adds each step's seconds to `steps`."""

    def timed(name: str, fn: Callable):
        start = time.perf_counter()
        value = fn()
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - start
        return value

    stack = "3rdparty/peach/framework-stack.txt"
    settings = make_settings(injected, stack, (repo / stack).read_bytes(), [], "codops-gateway")
    files = timed("read config files from disk", lambda: [
        (p.relative_to(repo).as_posix(), p.read_bytes()) for p in sorted((repo / "example").rglob("*.yaml"))])
    parsed = timed("parse each config file (YAML, requirements)", lambda: [parse_file(p, c) for p, c in files])
    problems, inputs = timed("group the files by codops", lambda: group(parsed))
    merged = timed("merge each codops", lambda: [merge_one(i, settings) for i in inputs])
    problems = [*problems, *(p for _, ps in merged for p in ps)]
    if problems:
        raise SystemExit(f"the configs have {len(problems)} problem(s), e.g. {problems[0]}")
    model = Model(tuple(c for c, _ in merged))
    notebooks = timed("read each notebook", lambda: [
        read_notebook(p, (repo / p).read_bytes()) for p in sorted(set(model.notebook_paths))])
    found = timed("find the decorators of each notebook", lambda: {nb.path: find_decorated(nb) for nb in notebooks})
    timed("check notebooks and decorators", lambda: (
        check_notebooks(model, {nb.path: nb for nb in notebooks}, []),
        [check_decorators(c, found) for c in model.codops]))
    return len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--injected", default="['pipe-algorithms-lib', 'implicit-lite==0.7.2']",
                        help="[peach].injected_requirements, as a Python list")
    parser.add_argument("--top", type=int, default=20, help="how many functions to list")
    args = parser.parse_args()
    injected = ast.literal_eval(args.injected)

    steps: Dict[str, float] = {}
    n_files = pipeline(args.repo, injected, steps)
    print(f"Plugin steps for {n_files:,} config files, plain Python (one run, no profiler):\n")
    print("| Step | Seconds |\n|---|---|")
    for name, seconds in steps.items():
        print(f"| {name} | {seconds:.3f} |")
    print(f"| total | {sum(steps.values()):.3f} |\n")

    parse_requirement.cache_clear()  # as cold as the first run (a warm pantsd keeps this cache)
    profiler = cProfile.Profile()
    profiler.enable()
    pipeline(args.repo, injected, {})
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"The same steps under cProfile, the {args.top} functions with the most own time:\n")
    print("```")
    print(out.getvalue().split("\n\n", 2)[-1].strip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
