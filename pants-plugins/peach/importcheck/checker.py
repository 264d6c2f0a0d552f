"""The import check of one environment: what runs inside its fresh virtualenv, and its report.

`pants test` on a `py_environment` runs `uv run --locked` in the environment's project: uv installs
the lock into a new virtualenv of the image's Python, then runs this file with that virtualenv's
interpreter:

    python checker.py INPUT.json RESULT.json

INPUT names the environment's direct requirements (canonical names, in the environment's order) and
the settings (warning categories that do not fail, modules to leave out, smoke checks, the timeout). For each requirement, the installed distribution's own records say what to import:
its `RECORD` (the files it installed; a directory without `__init__.py` is a namespace, so its
packages are imported instead) or, without one, its `top_level.txt`. No table of import names.
Each module is imported in a fresh interpreter (`python -I`), and so is each smoke check (code run
for a package, for breakage that shows only on first use), which records:

- an exception raised by the import;
- every warning raised during the import (all are recorded; the categories in `ignored_warnings`,
  by default the deprecation warnings Python itself hides outside `__main__`, do not fail);
- every log record at WARNING or above, whichever logger wrote it and wherever its handlers send it;
- what it wrote to stderr (shown with a failure, not a failure by itself).

A package that installs no importable module (a plugin, a data package) is noted, not failed; a
direct requirement that is not installed (its marker excludes this platform) is noted too.
RESULT.json gets the outcome of every package; the plugin renders it with the config lines
(`render_report`). Exit code: 0 when nothing failed, 1 otherwise.

Standard library only, no imports from peach or Pants, Python 3.8+: it runs in the environment's
interpreter, and `render_report` / `install_failure` run in the plugin.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

DEFAULT_IGNORED_WARNINGS = ("DeprecationWarning", "PendingDeprecationWarning")
# Top-level directories a distribution may install that are no module of its own.
_NOT_MODULES = {"tests", "test", "testing", "__pycache__"}
_STDERR_LINES = 8

# Runs in a fresh interpreter: imports one module and writes what happened to a JSON file.
CHILD = r"""
import json, logging, sys, traceback, warnings
kind, what, out = sys.argv[1], sys.argv[2], sys.argv[3]
logs = []
_handle = logging.Logger.handle
def _recording_handle(self, record):
    if record.levelno >= logging.WARNING:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        logs.append({"logger": record.name, "level": record.levelname, "message": message})
    return _handle(self, record)
logging.Logger.handle = _recording_handle
error = None
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        if kind == "import":
            __import__(what)
        else:
            exec(compile(what, "<smoke check>", "exec"), {"__name__": "__peach_smoke__"})
    except BaseException as exc:
        error = {"type": type(exc).__name__, "message": str(exc),
                 "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]}
found = [{"category": w.category.__name__, "message": str(w.message), "file": str(w.filename), "line": w.lineno}
         for w in caught]
with open(out, "w", encoding="utf-8") as f:
    json.dump({"error": error, "warnings": found, "logs": logs}, f)
"""


# ---------------------------------------------------------------------------------------------------
# What to import: from the distribution's own records
# ---------------------------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (the same as `packaging.utils.canonicalize_name`)."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _module_stem(filename: str, extension_suffixes: Sequence[str]) -> Optional[str]:
    if filename.endswith(".py"):
        return filename[:-3]
    for suffix in sorted(extension_suffixes, key=len, reverse=True):
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return None


def modules_from_files(files: Iterable[str], extension_suffixes: Sequence[str] = (".so",)) -> Tuple[str, ...]:
    """The importable top-level modules among a distribution's installed files (RECORD paths).

    A package is a directory with `__init__.py`; a directory without one is a namespace, whose
    packages and modules are taken one level down (`google/protobuf/__init__.py` -> `google.protobuf`).
    Files outside site-packages (`../../bin/...`), `*.dist-info`, `*.data`, `__pycache__` and
    `tests` directories are left out, and so are private modules (`_distutils_hack`, `google._upb`) when the
    distribution has public ones.
    """
    python_files = []
    for path in files:
        parts = tuple(p for p in path.replace("\\", "/").split("/") if p)
        if not parts or parts[0] in ("..", ".") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
            continue
        if any(p in _NOT_MODULES for p in parts[:-1]):
            continue
        stem = _module_stem(parts[-1], extension_suffixes)
        if stem is None or not all(p.isidentifier() for p in parts[:-1]):
            continue
        python_files.append((parts, stem))
    packages = {parts[:-1] for parts, stem in python_files if stem == "__init__"}
    found = set()
    for parts, stem in python_files:
        for depth in range(1, len(parts)):
            if parts[:depth] in packages:
                found.add(".".join(parts[:depth]))
                break
        else:
            if stem != "__init__" and stem.isidentifier() and stem not in _NOT_MODULES:
                found.add(".".join((*parts[:-1], stem)))
    public = {m for m in found if not any(part.startswith("_") for part in m.split("."))}
    return tuple(sorted(public or found))


def modules_from_top_level(text: str) -> Tuple[str, ...]:
    """The modules `top_level.txt` names (one per line), the same filters as `modules_from_files`."""
    names = {line.strip().replace("/", ".") for line in text.splitlines()}
    found = {n for n in names if n and all(p.isidentifier() for p in n.split(".")) and n not in _NOT_MODULES}
    public = {m for m in found if not m.startswith("_")}
    return tuple(sorted(public or found))


def distribution_modules(dist: Any) -> Tuple[str, ...]:
    """What to import for an installed `importlib.metadata.Distribution`: from RECORD, else top_level.txt."""
    import importlib.machinery

    files = dist.files
    if files:
        return modules_from_files((str(f) for f in files), importlib.machinery.EXTENSION_SUFFIXES)
    return modules_from_top_level(dist.read_text("top_level.txt") or "")


def installed_distributions() -> Dict[str, Any]:
    """Every distribution of this interpreter's environment by canonical name (the first one found wins)."""
    import importlib.metadata

    found: Dict[str, Any] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical_name(name), dist)
    return found


# ---------------------------------------------------------------------------------------------------
# Importing, each module in a fresh interpreter
# ---------------------------------------------------------------------------------------------------


def import_module(python: str, module: str, timeout: int, smoke: bool = False) -> Dict[str, Any]:
    """Import `module` (or run the code `module`, with `smoke`) in a fresh `python -I`: the error,
    warnings, log records and stderr it produced."""
    with tempfile.TemporaryDirectory(prefix="peach-import-") as tmp:
        out = os.path.join(tmp, "result.json")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        try:
            proc = subprocess.run([python, "-I", "-c", CHILD, "exec" if smoke else "import", module, out],
                                  cwd=tmp, env=child_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": {"type": "Timeout", "message": f"it did not finish in {timeout} s",
                              "traceback": ""}, "warnings": [], "logs": [], "stderr": ""}
        stderr = proc.stderr.decode("utf-8", "replace")
        try:
            with open(out, encoding="utf-8") as f:
                outcome = json.load(f)
        except (OSError, ValueError):
            # The interpreter died during the import (a crash in native code, os._exit).
            outcome = {"error": {"type": "Crash", "message": f"the interpreter exited with code {proc.returncode} "
                                 "before it finished", "traceback": ""}, "warnings": [], "logs": []}
    outcome["stderr"] = stderr
    return outcome


def failures(outcome: Mapping[str, Any], ignored_warnings: Iterable[str]) -> List[str]:
    """What fails in one import's outcome, one line each: the exception, each warning, each log record."""
    ignored = set(ignored_warnings)
    found = []
    if outcome.get("error"):
        error = outcome["error"]
        found.append(f"exception: {error['type']}: {_first_line(error['message'])}")
    for warning in outcome.get("warnings", ()):
        if warning["category"] not in ignored:
            found.append(f"warning: {warning['category']}: {_first_line(warning['message'])} "
                         f"({_short_path(warning['file'])}:{warning['line']})")
    for record in outcome.get("logs", ()):
        found.append(f"log {record['level']} ({record['logger']}): {_first_line(record['message'])}")
    return found


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] + (" [...]" if len(lines) > 1 else "")


def _short_path(path: str) -> str:
    """A warning's file, relative to site-packages when it is there (no sandbox path in reports)."""
    marker = "/site-packages/"
    return path.split(marker, 1)[1] if marker in path else path


def _planned(package: str, dists: Mapping[str, Any], skip_modules: Sequence[str],
             smoke: Optional[str]) -> Dict[str, Any]:
    import fnmatch

    dist = dists.get(canonical_name(package))
    if dist is None:
        return {"package": package, "status": "not-installed", "version": None, "modules": [], "skipped": []}
    modules = distribution_modules(dist)
    skipped = [m for m in modules if any(fnmatch.fnmatchcase(m, p) for p in skip_modules)]
    checked = [{"module": m, "failures": [], "stderr": []} for m in modules if m not in skipped]
    if smoke:
        checked.append({"module": "smoke check", "smoke": smoke, "failures": [], "stderr": []})
    return {"package": package, "status": "no-modules" if not modules else "ok", "version": dist.version,
            "modules": checked, "skipped": skipped}


def _record(module: Dict[str, Any], outcome: Mapping[str, Any], ignored: Sequence[str]) -> None:
    module["failures"] = failures(outcome, ignored)
    stderr = [line for line in outcome.get("stderr", "").splitlines() if line.strip()]
    if module["failures"]:
        module["stderr"] = stderr[:_STDERR_LINES] + (["[...]"] if len(stderr) > _STDERR_LINES else [])


def run(spec: Mapping[str, Any], python: str = sys.executable) -> Dict[str, Any]:
    """Check every package of `spec["packages"]`; the imports run `jobs` at a time, the result is in order."""
    dists = installed_distributions()
    ignored = tuple(spec.get("ignored_warnings", DEFAULT_IGNORED_WARNINGS))
    timeout = int(spec.get("timeout", 600))
    jobs = max(1, min(int(spec.get("jobs", 0)) or (os.cpu_count() or 1), 8))
    skip_modules = tuple(spec.get("skip_modules", ()))
    smoke = dict(spec.get("smoke", {}))
    packages = [_planned(p, dists, skip_modules, smoke.get(canonical_name(p))) for p in spec["packages"]]
    modules = [m for p in packages for m in p["modules"]]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(
            lambda m: import_module(python, m["smoke"], timeout, smoke=True) if "smoke" in m
            else import_module(python, m["module"], timeout), modules))
    for module, outcome in zip(modules, outcomes):
        _record(module, outcome, ignored)
    for package in packages:
        if any(m["failures"] for m in package["modules"]):
            package["status"] = "fail"
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "installed": len(dists),
        "packages": packages,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python checker.py INPUT.json RESULT.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        spec = json.load(f)
    result = run(spec)
    with open(args[1], "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    failed = [p["package"] for p in result["packages"] if p["status"] == "fail"]
    print(f"checked {len(result['packages'])} package(s), {len(failed)} failed" +
          (": " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------------
# The report (rendered by the plugin, which knows the config lines)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a direct requirement came from: the final entry, its tier and `file:line`."""

    requirement: str
    tier: str
    source: str


def render_report(environment: str, address: str, result: Mapping[str, Any], origins: Mapping[str, Origin]) -> str:
    """The import check's report: a verdict line, then per failure the package, its installed
    version, the module, each message and the config line; then what was not checked, and the
    packages that passed."""
    packages = result["packages"]
    failed = [p for p in packages if p["status"] == "fail"]
    passed = [p for p in packages if p["status"] == "ok"]
    noted = [p for p in packages if p["status"] in ("no-modules", "not-installed")]
    lines = []
    if failed:
        lines.append(f"environment `{environment}`: {len(failed)} of {len(packages)} direct requirement(s) "
                     f"fail to import cleanly (Python {result['python']}, {result['installed']} installed "
                     "distributions, each module imported in a fresh interpreter).")
    else:
        lines.append(f"environment `{environment}`: all {len(passed)} importable direct requirement(s) import "
                     f"cleanly (Python {result['python']}, {result['installed']} installed distributions).")
    for package in failed:
        origin = origins.get(canonical_name(package["package"]))
        lines.append("")
        lines.append(f"FAIL {package['package']} {package['version']} (the locked version installed)")
        if origin is not None:
            lines.append(f"  declared: `{origin.requirement}` ({origin.tier}, {origin.source})")
        for module in package["modules"]:
            label = f"smoke check `{module['smoke']}`" if "smoke" in module else f"import {module['module']}"
            if not module["failures"]:
                lines.append(f"  {label}: ok")
                continue
            lines.append(f"  {label}:")
            lines.extend(f"    {problem}" for problem in module["failures"])
            if module["stderr"]:
                lines.append("    stderr meanwhile:")
                lines.extend(f"      | {line}" for line in module["stderr"])
        lines.append(f"  why this version: pants peach-why --peach-why-package={package['package']} {address}")
    if failed:
        lines.append("")
        lines.append("Fix: pin the packages concerned in the environment's config (a version that works with "
                     "the rest of the lock), then run `pants test` on the environment again.")
    for package in noted:
        what = ("installs no importable module (a plugin or data package): nothing to import"
                if package["status"] == "no-modules" else "not installed on this platform (its marker excludes it)")
        version = f" {package['version']}" if package["version"] else ""
        lines.append(f"note: {package['package']}{version}: {what}")
    for package in packages:
        if package.get("skipped"):
            lines.append(f"note: {package['package']}: not imported ([peach-import-check].skip_modules): "
                         + ", ".join(package["skipped"]))
    if passed:
        lines.append("ok: " + ", ".join(
            f"{p['package']} {p['version']} ({', '.join(m['module'] for m in p['modules'])})" for p in passed))
    return "\n".join(lines) + "\n"


def install_failure(environment: str, uv_stderr: str) -> str:
    """The report when uv could not install the environment's lock (the imports did not run)."""
    message = "\n".join(f"  | {line}" for line in uv_stderr.strip().splitlines()) or "  | (uv printed nothing)"
    return (f"environment `{environment}`: the lock could not be installed into a fresh virtualenv "
            f"(`uv run --locked`), so nothing was imported. uv said:\n{message}\n"
            "Fix: a lock that does not install on the image's platform usually needs a pin in the environment's "
            "config; run `pants package` on the environment to see whether the lock itself is current.\n")


def unreadable_result(environment: str, address: str, problem: str, stderr: str) -> str:
    """The report when the checker's result file is not the JSON it writes (the process was killed
    while writing it, or the file was replaced): the verdict is unknown, so the check fails."""
    message = "\n".join(f"  | {line}" for line in stderr.strip().splitlines()) or "  | (it printed nothing)"
    return (f"environment `{environment}`: the import check's result could not be read ({problem}), so whether "
            f"the environment imports is unknown. The check's stderr:\n{message}\n"
            f"Fix: run `pants test --force {address}` again; if it fails the same way, report it with the "
            "environment's pyproject.toml and this output.\n")


if __name__ == "__main__":
    sys.exit(main())
