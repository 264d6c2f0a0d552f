from typing import List, Tuple

from pants.core.goals.export import ExportResult, ExportSubsystem
from pants.engine.addresses import Address
from pants.engine.fs import Digest
from pants.engine.target import Target
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

from peach.config.ids import EnvironmentId, codops_of_prefix
from peach.environments.project import EnvironmentRequest, KnownEnvironments
from peach.goals.export import (
    ExportPeachEnvironmentsRequest,
    _Export,
    codops_result,
    export_peach_environments,
    sync_command,
)
from peach.target_types import PeachAllTarget, PeachCodopsTarget, PyEnvironmentTarget
from peach.uv.credentials import UvCredentials
from peach.uv.tool import UvInterpreter, UvIsolation


def test_a_codops_prefix_names_one_codops() -> None:
    assert codops_of_prefix("peach/zzebu/") == "zzebu"
    assert [codops_of_prefix(n) for n in ("peach/zzebu/ml", "peach/", "peach//", "pytest", "other/zzebu/")] == [""] * 5


def test_a_codops_result_is_the_directory_of_its_environments() -> None:
    result = codops_result("peach/zzebu/")
    assert (result.reldir, result.resolve) == ("peach-zzebu", "peach/zzebu/")
    assert EnvironmentId("zzebu", "ml").export_dir.startswith(result.reldir + "/")


def environment(codops: str, name: str) -> EnvironmentRequest:
    return EnvironmentRequest(codops, name, ("numpy",), ("peach.conf/a.yaml",))


KNOWN = KnownEnvironments(FrozenDict({
    EnvironmentId(c, e).resolve: environment(c, e)
    for c, e in (("zzebu", "base"), ("zzebu", "ml"), ("zzebux", "ml"), ("acme", "base"))
}))


def export(resolves: List[str], targets: List[Target] = ()) -> Tuple[List[EnvironmentRequest], List[ExportResult]]:
    """`export_peach_environments`: the environments it exports (in order), and its results."""
    exported: List[EnvironmentRequest] = []

    def export_one(request: _Export) -> ExportResult:
        exported.append(request.environment)
        return ExportResult("one", request.environment.id.export_dir)

    results = run_rule_with_mocks(
        export_peach_environments,
        rule_args=[ExportPeachEnvironmentsRequest(tuple(targets)), create_subsystem(ExportSubsystem, resolve=resolves),
                   KNOWN],
        mock_gets=[MockGet(ExportResult, (_Export,), export_one)],
    )
    return exported, list(results)


def names(environments: List[EnvironmentRequest]) -> List[str]:
    return [f"{e.codops}/{e.environment}" for e in environments]


def test_resolves_name_environments_or_every_environment_of_a_codops() -> None:
    exported, results = export(["peach/zzebu/ml", "pytest", "peach/zzebu/", "peach/nope/", "peach/acme/base"])
    # `peach/zzebu/` is not a prefix of `peach/zzebux/...`; Pants' own resolves are not ours.
    assert names(exported) == ["acme/base", "zzebu/base", "zzebu/ml"]
    # A known codops prefix answers for itself; an unknown one is left to Pants to report.
    assert [(r.reldir, r.resolve) for r in results] == [
        ("peach-acme/base", None), ("peach-zzebu/base", None), ("peach-zzebu/ml", None),
        ("peach-zzebu", "peach/zzebu/")]
    # A name is a resolve or a prefix ending in `/`: `peach/zzebu` and `peach/acme/bas` name nothing.
    assert export(["pytest", "peach/nope/x", "peach/zzebu", "peach/acme/bas"]) == ([], [])


def test_targets_name_an_environment_a_codops_or_every_codops() -> None:
    env = PyEnvironmentTarget({"codops": "acme", "environment": "base", "requirements": ["numpy"]},
                              Address("", target_name="peach", generated_name="acme-base"))
    codops = PeachCodopsTarget({"codops": "zzebu"}, Address("", target_name="peach", generated_name="zzebu"))
    everything = PeachAllTarget({}, Address("", target_name="peach", generated_name="_all"))
    assert names(export([], [env])[0]) == ["acme/base"]
    # `zzebu`'s environments, not `zzebux`'s.
    assert names(export([], [codops, env])[0]) == ["acme/base", "zzebu/base", "zzebu/ml"]
    assert names(export([], [everything])[0]) == ["acme/base", "zzebu/base", "zzebu/ml", "zzebux/ml"]
    # The targets are not looked at when resolves are given.
    assert names(export(["peach/acme/base"], [everything])[0]) == ["acme/base"]


def isolation() -> UvIsolation:
    credentials = UvCredentials(FrozenDict({"HTTPS_PROXY": "http://proxy.example.invalid:3128"}), "0123/netrc", True)
    return UvIsolation(Digest("1" * 64, 1), UvInterpreter("/opt/python3.11", "f1"),
                       FrozenDict({"SSL_CERT_FILE": "/etc/ssl/{corp}.pem"}), credentials)


def test_exports_uv_sync_gets_the_isolation_of_every_uv_process() -> None:
    command = sync_command("/usr/bin/env", isolation(), "/caches", "/usr/bin:/bin", quiet=True)
    assert dict(command.extra_env) == {}
    argv = [arg.format(digest_root="/repo/dist/export/peach-zzebu/ml") for arg in command.argv]
    assert argv[:2] == ["/usr/bin/env", "-i"]  # nothing of the Pants process's environment but PATH
    start = argv.index("/opt/python3.11")
    env = dict(arg.split("=", 1) for arg in argv[2:start])
    root = "/repo/dist/export/peach-zzebu/ml"
    # The same variables as a sandboxed uv process, with the export directory as its root and the
    # named caches where Pants keeps them; plus what running the tool pex in the workspace needs.
    sandbox = isolation().sandbox_env()
    assert set(env) == {*sandbox, "PATH", "PEX_ROOT", "VIRTUAL_ENV"}
    assert {k: v for k, v in env.items() if k in sandbox} == {
        k: v.replace("{chroot}/.cache/uv", "/caches/peach_uv").replace("{chroot}/.peach/secrets", "/caches/peach_credentials")
        .replace("{chroot}", root) for k, v in sandbox.items()}
    assert env["XDG_CONFIG_DIRS"] == f"{root}/.peach/sysconfig"  # where the empty uv.toml is
    assert env["NETRC"] == "/caches/peach_credentials/0123/netrc"
    assert env["SSL_CERT_FILE"] == "/etc/ssl/{corp}.pem"  # a brace in a value survives Pants' formatting
    assert (env["PATH"], env["VIRTUAL_ENV"], env["PEX_ROOT"]) == ("/usr/bin:/bin", f"{root}/.venv", "/caches/pex_root")
    assert argv[start:] == ["/opt/python3.11", f"{root}/.peach/uv.pex", "sync", "--locked", "--no-install-project",
                            "--directory", root, "--python", "/opt/python3.11", "--quiet"]
    assert "--quiet" not in sync_command("/usr/bin/env", isolation(), "/caches", "", quiet=False).argv
