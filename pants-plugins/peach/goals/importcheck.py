"""`pants test` on a `py_environment`: does the locked environment install and import?

One cached process per environment: `uv run --locked` installs the environment's lock into a fresh
virtualenv of the image's Python (uv's shared `peach_uv` cache, as for `package` and `export`) and
runs the checker (`peach.importcheck.checker`) there, which imports every direct requirement's
modules, each in a fresh interpreter. The process's inputs are the environment's `pyproject.toml`,
`uv.lock`, the checker and the list of package names: an unchanged lock is not checked again (Pants
caches a passing test like any other). The report, with the config line of each failing package,
is rendered here from the checker's result.
"""
from __future__ import annotations

import fnmatch
import json
import logging
import pkgutil
import posixpath
from dataclasses import dataclass
from typing import Any

from pants.core.goals.test import TestFieldSet, TestRequest, TestResult, TestSubsystem
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.option.option_types import DictOption, IntOption, SkipOption, StrListOption
from pants.option.subsystem import Subsystem
from pants.util.logging import LogLevel
from pants.util.strutil import help_text

from peach.config.names import canonical_name
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.project import EnvironmentRequest
from peach.importcheck.checker import (
    DEFAULT_IGNORED_WARNINGS,
    Origin,
    install_failure,
    render_report,
    unreadable_result,
)
from peach.target_types import (
    CodopsField,
    ConfigFilesField,
    EnvironmentNameField,
    ProvenanceField,
    RequirementsField,
)
from peach.uv.tool import UvProcess

logger = logging.getLogger(__name__)

_DIR = ".peach-import-check"
_CHECKER, _INPUT, _RESULT = f"{_DIR}/checker.py", f"{_DIR}/input.json", f"{_DIR}/result.json"


class ImportCheckSubsystem(Subsystem):
    options_scope = "peach-import-check"
    name = "peach import check"
    help = help_text(
        """
        The import check that `pants test` runs on each `py_environment`: the environment's lock is
        installed with uv into a fresh virtualenv of the image's Python, and the modules of every
        direct requirement are imported, each in a fresh interpreter. An exception, a warning or a
        log record at WARNING or above during an import fails the check.
        """
    )

    skip = SkipOption("test")
    skip_environments = StrListOption(
        default=[],
        help=help_text(
            """
            Environments the import check skips, as `<codops>/<environment>` names or shell-style
            patterns (`zzebu/ml`, `*/ml`, `zzebu/*`): for environments too large to install in CI
            (torch with its CUDA packages is several GB). `pants test` reports nothing for them.
            """
        ),
    )
    ignored_warnings = StrListOption(
        default=list(DEFAULT_IGNORED_WARNINGS),
        advanced=True,
        help=help_text(
            """
            Warning categories (class names) that are recorded but do not fail an import. The
            default, the deprecation warnings, are those Python itself hides outside `__main__`:
            they tell a package's developers about their own dependencies, not the image about a
            broken environment. Set `[]` to fail on every warning.
            """
        ),
    )
    skip_modules = StrListOption(
        default=[],
        help=help_text(
            """
            Modules the import check does not import, as names or shell-style patterns
            (`nvfuser`, `tensorflow.*`): optional parts of a distribution that need a library the
            image does not install. The report lists them as not imported.
            """
        ),
    )
    smoke_checks = DictOption[str](
        default={},
        help=help_text(
            """
            Python code to run for a package, by package name, besides importing its modules: for
            breakage that shows only on first use. torch 2.0, for one, initialises NumPy lazily, so
            `import torch` succeeds under NumPy 2 and `{"torch": "import numpy, torch;
            torch.from_numpy(numpy.zeros(1))"}` fails. It runs in a fresh interpreter and fails
            like an import: on an exception, a warning or a log record at WARNING or above.
            """
        ),
    )
    import_timeout = IntOption(
        default=600,
        advanced=True,
        help="Seconds one module's import may take before it counts as a failure.",
    )


@dataclass(frozen=True)
class ImportCheckFieldSet(TestFieldSet):
    required_fields = (CodopsField, EnvironmentNameField, RequirementsField, ProvenanceField)

    codops: CodopsField
    environment: EnvironmentNameField
    requirements: RequirementsField
    provenance: ProvenanceField
    config_files: ConfigFilesField

    @property
    def request(self) -> EnvironmentRequest:
        return EnvironmentRequest(self.codops.value, self.environment.value, tuple(self.requirements.value or ()),
                                  tuple(self.config_files.value or ()))


class ImportCheckRequest(TestRequest):
    tool_subsystem = ImportCheckSubsystem
    field_set_type = ImportCheckFieldSet


def skipped(environment: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(environment, p) for p in patterns)


def _checker_source() -> bytes:
    data = pkgutil.get_data("peach.importcheck", "checker.py")
    assert data is not None, "peach/importcheck/checker.py is part of the plugin"
    return data


@rule(desc="Check that a peach environment installs and imports", level=LogLevel.DEBUG)
async def run_import_check(
    batch: ImportCheckRequest.Batch[ImportCheckFieldSet, Any],
    test: TestSubsystem,
    check: ImportCheckSubsystem,
) -> TestResult:
    field_set = batch.single_element
    request = field_set.request
    if skipped(request.name, check.skip_environments):
        logger.info(f"peach import check: skipped {request.name} ([peach-import-check].skip_environments).")
        return TestResult.no_tests_found(field_set.address, test.output)
    locked = await Get(LockedEnvironment, LockEnvironmentRequest(request))
    project = locked.project
    packages = [canonical_name(p.package) for p in field_set.provenance.value]
    smoke = {canonical_name(name): code for name, code in check.smoke_checks.items()}
    spec = {"packages": packages, "ignored_warnings": list(check.ignored_warnings), "timeout": check.import_timeout,
            "skip_modules": list(check.skip_modules), "smoke": {p: smoke[p] for p in packages if p in smoke}}
    created = await Get(Digest, CreateDigest([
        FileContent(f"{project.dir}/pyproject.toml", locked.pyproject),
        FileContent(f"{project.dir}/uv.lock", locked.lock.encode()),
        FileContent(_CHECKER, _checker_source()),
        FileContent(_INPUT, json.dumps(spec, sort_keys=True).encode()),
    ]))
    digest = await Get(Digest, MergeDigests([created, project.index_files]))
    result = await Get(FallibleProcessResult, UvProcess(
        # `--directory`: uv reads the project's relative paths (a directory index) from there.
        argv=("run", "--locked", "--directory", project.dir),
        command=("python", *(posixpath.relpath(path, project.dir) for path in (_CHECKER, _INPUT, _RESULT))),
        input_digest=digest,
        output_files=(_RESULT,),
        lock=f"{project.dir}/uv.lock",
        description=f"peach import check {project.name}",
        cache_scope=ProcessCacheScope.PER_SESSION if test.force else ProcessCacheScope.SUCCESSFUL,
    ))
    contents = await Get(DigestContents, Digest, result.output_digest)
    readable = bool(contents)
    if contents:
        origins = {canonical_name(p.package): Origin(p.requirement, p.tier, p.source)
                   for p in field_set.provenance.value}
        try:
            report = render_report(project.name, field_set.address.spec, json.loads(contents[0].content), origins)
        except (ValueError, KeyError, TypeError) as e:  # not what the checker writes: a verdict unknown
            readable = False
            report = unreadable_result(project.name, field_set.address.spec, f"{type(e).__name__}: {e}",
                                       result.stderr.decode("utf-8", "replace"))
    else:
        report = install_failure(project.name, result.stderr.decode("utf-8", "replace"))
    tested = TestResult.from_fallible_process_result(result, field_set.address, test.output)
    exit_code = result.exit_code if result.exit_code != 0 or readable else 1
    return TestResult(
        exit_code=exit_code, stdout=report, stdout_digest=tested.stdout_digest,
        stderr=tested.stderr if readable else "",
        stderr_digest=tested.stderr_digest, addresses=tested.addresses, output_setting=tested.output_setting,
        result_metadata=tested.result_metadata,
    )


def rules():
    return [*collect_rules(), *ImportCheckRequest.rules()]
