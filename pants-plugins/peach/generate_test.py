from __future__ import annotations

import json
from textwrap import dedent

import pytest
from pants.backend.project_info.dependents import Dependents, DependentsRequest
from pants.engine.addresses import Address
from pants.engine.rules import QueryRule
from pants.engine.target import AllTargets, DependenciesRequest, Targets
from pants.engine.unions import UnionMembership
from pants.testutil.rule_runner import RuleRunner
from pants.vcs import changed
from pants.vcs.changed import ChangedAddresses, ChangedRequest, DependentsOption

from peach import generate, read_configs, register
from peach.target_types import (
    CodopsField,
    ComponentRecord,
    ComponentsField,
    EnvironmentNameField,
    FullNotebookField,
    MethodField,
    NotebookField,
    PeachConfigSourcesField,
    ProvenanceField,
    RequirementsField,
    UrlField,
)

FRAMEWORK = "ray[serve]==2.60.0\nfastapi==0.165.0\n"
STACK_OPTION = "--peach-framework-stack=3rdparty/peach/framework-stack.txt"


def notebook(*functions: str) -> str:
    cells = [{"cell_type": "code", "source": f"def {f}(x):\n    return x\n"} for f in functions]
    return json.dumps({"cells": cells, "nbformat": 4})


REPO = {
    "BUILD": "peach_config(name='peach', tags=['peach'])",
    "3rdparty/peach/framework-stack.txt": FRAMEWORK,
    "zzebu/peach.conf/envs.yaml": dedent("""\
        codops: zzebu
        py_environments:
          base: {dependencies: [orjson==3.10.0, httpx]}
          ml: {dependencies: [torch==2.0, transformers]}
          other: {dependencies: [six]}
        """),
    "zzebu/peach.conf/endpoints.yaml": dedent("""\
        codops: zzebu
        endpoints:
          recommend:
            url: /recommend
            py_env: ml
            components:
              main: {notebook: endpoint.ipynb, method: recommend}
              fallback: {notebook: endpoint.ipynb, method: fallback, full_notebook: true}
        tasks:
          reindex: {notebook: nb.ipynb, method: run, py_env: ml}
          cleanup: {notebook: nb.ipynb, method: cleanup}
        """),
    "zzebu/endpoint.ipynb": notebook("recommend", "fallback"),
    "zzebu/nb.ipynb": notebook("run", "cleanup"),
    "debr/peach.yaml": "codops: debr\npy_environments:\n  base: {dependencies: [tqdm]}\n",
}


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *read_configs.rules(),
            *generate.rules(),
            *changed.rules(),
            QueryRule(AllTargets, []),
            QueryRule(Targets, [DependenciesRequest]),
            QueryRule(Dependents, [DependentsRequest]),
            QueryRule(ChangedAddresses, [ChangedRequest]),
            QueryRule(read_configs.PeachModel, [read_configs.PeachConfigModelRequest]),
        ],
        target_types=register.target_types(),
    )
    runner.write_files(REPO)
    runner.set_options([STACK_OPTION])
    return runner


def addr(name: str) -> Address:
    return Address("", target_name="peach", generated_name=name)


def file_addr(path: str) -> Address:
    return Address("", target_name="peach", relative_file_path=path)


def test_generated_targets(rule_runner: RuleRunner) -> None:
    specs = sorted(t.address.spec for t in rule_runner.request(AllTargets, []))
    assert specs == sorted([  # the expanded targets: the generator itself is not among them
        "//:peach#_all", "//:peach#debr", "//:peach#debr/base", "//:peach#debr/codops-gateway",
        "//:peach#zzebu", "//:peach#zzebu/base", "//:peach#zzebu/codops-gateway", "//:peach#zzebu/ml",
        "//:peach#zzebu/other",
        "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/cleanup", "//:peach#zzebu/tasks/reindex",
        "//3rdparty/peach/framework-stack.txt:../../peach",
        "//debr/peach.yaml:../peach",
        "//zzebu/endpoint.ipynb:../peach", "//zzebu/nb.ipynb:../peach",
        "//zzebu/peach.conf/endpoints.yaml:../../peach", "//zzebu/peach.conf/envs.yaml:../../peach",
    ])


def test_an_edit_builds_again_only_the_targets_of_its_codops(rule_runner: RuleRunner) -> None:
    """What keeps an edit cheap in a large repo: a comment leaves the model equal (the engine then
    stops there), and a real edit changes the request of its own codops' targets only (the engine
    reuses every other codops' targets)."""
    generator = rule_runner.get_target(Address("", target_name="peach"))

    def read() -> tuple:
        found = rule_runner.request(read_configs.PeachModel, [read_configs.PeachConfigModelRequest(
            generator[PeachConfigSourcesField])])
        request = generate.GeneratePeachTargetsRequest(generator, generator.address, {"tags": ["peach"]}, {})
        helpers = generate.sources_helpers(generator.address, [*found.config_files, *found.model.notebook_paths],
                                           UnionMembership({}))
        return found, {r.codops.name: r for r in generate.codops_requests(request, found, helpers, [])}

    model, before = read()
    rule_runner.write_files({"debr/peach.yaml": REPO["debr/peach.yaml"] + "# a comment, at the end\n"})
    commented, _ = read()
    assert commented == model
    rule_runner.write_files({"debr/peach.yaml": REPO["debr/peach.yaml"].replace("[tqdm]", "[tqdm>=4]")})
    edited, after = read()
    assert edited != model
    assert after["zzebu"] == before["zzebu"] and hash(after["zzebu"]) == hash(before["zzebu"])
    assert after["debr"] != before["debr"]
    assert "tqdm>=4" in after["debr"].codops.environment("base").requirements


def test_environment_fields(rule_runner: RuleRunner) -> None:
    ml = rule_runner.get_target(addr("zzebu/ml"))
    assert ml.alias == "py_environment"
    assert ml[CodopsField].value == "zzebu"
    assert ml[EnvironmentNameField].value == "ml"
    assert ml[RequirementsField].value == (
        "pipe-algorithms-lib", "implicit==0.7.2", "orjson==3.10.0", "httpx", "torch==2.0", "transformers",
        "ray[serve]==2.60.0", "fastapi==0.165.0",
    )
    torch = ml[ProvenanceField].value[4]
    assert (torch.requirement, torch.package, torch.tier, torch.source) == (
        "torch==2.0", "torch", "environment", "zzebu/peach.conf/envs.yaml:4")
    assert ml.get(type(ml).core_fields[0]).value == ("peach", "zzebu")  # tags: the generator's, plus the codops
    gateway = rule_runner.get_target(addr("zzebu/codops-gateway"))
    assert gateway[RequirementsField].value == rule_runner.get_target(addr("zzebu/base"))[RequirementsField].value


def test_endpoint_and_task_fields(rule_runner: RuleRunner) -> None:
    endpoint = rule_runner.get_target(addr("zzebu/endpoints/recommend"))
    assert endpoint[UrlField].value == "/recommend"
    assert endpoint[EnvironmentNameField].value == "ml"
    assert endpoint[ComponentsField].value == (
        ComponentRecord("main", "zzebu/endpoint.ipynb", "recommend", False),
        ComponentRecord("fallback", "zzebu/endpoint.ipynb", "fallback", True),
    )
    cleanup = rule_runner.get_target(addr("zzebu/tasks/cleanup"))
    assert (cleanup[NotebookField].value, cleanup[MethodField].value) == ("zzebu/nb.ipynb", "cleanup")
    assert cleanup[EnvironmentNameField].value == "base"
    assert cleanup[FullNotebookField].value is False


def dependencies(rule_runner: RuleRunner, address: Address) -> set:
    target = rule_runner.get_target(address)
    deps = rule_runner.request(Targets, [DependenciesRequest(target.get(type(target).core_fields[-1]))])
    return {t.address.spec for t in deps}


def test_dependencies(rule_runner: RuleRunner) -> None:
    assert dependencies(rule_runner, addr("zzebu/endpoints/recommend")) == {
        "//:peach#zzebu/ml",
        "//zzebu/peach.conf/endpoints.yaml:../../peach",
        "//zzebu/endpoint.ipynb:../peach",
    }
    assert dependencies(rule_runner, addr("zzebu/tasks/cleanup")) == {
        "//:peach#zzebu/base",
        "//zzebu/peach.conf/endpoints.yaml:../../peach",
        "//zzebu/nb.ipynb:../peach",
    }
    assert dependencies(rule_runner, addr("zzebu/ml")) == {
        "//zzebu/peach.conf/envs.yaml:../../peach",
        "//3rdparty/peach/framework-stack.txt:../../peach",
    }
    assert dependencies(rule_runner, addr("zzebu")) == {
        "//:peach#zzebu/base", "//:peach#zzebu/ml", "//:peach#zzebu/other", "//:peach#zzebu/codops-gateway",
        "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex", "//:peach#zzebu/tasks/cleanup",
    }


def test_dependents_of_an_environment_are_its_endpoints_and_tasks(rule_runner: RuleRunner) -> None:
    dependents = rule_runner.request(Dependents, [DependentsRequest([addr("zzebu/ml")], transitive=False, include_roots=False)])
    assert {a.spec for a in dependents} == {
        "//:peach", "//:peach#zzebu", "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex",
    }
    codops = rule_runner.request(Dependents, [DependentsRequest([addr("zzebu")], transitive=False, include_roots=False)])
    assert {a.spec for a in codops} == {"//:peach", "//:peach#_all"}


def changed_since(rule_runner: RuleRunner, *paths: str) -> set:
    result = rule_runner.request(ChangedAddresses, [ChangedRequest(paths, DependentsOption.TRANSITIVE)])
    found = {a.spec for a in result if a.is_generated_target and "#" in a.spec}
    assert "//:peach#_all" in found  # every change reaches the target that packages every codops
    return found - {"//:peach#_all"}


def test_changed_named_environment_file_reaches_exactly_its_environments(rule_runner: RuleRunner) -> None:
    # envs.yaml declares base, ml and other of zzebu: all of zzebu's environments and what runs in them.
    assert changed_since(rule_runner, "zzebu/peach.conf/envs.yaml") == {
        "//:peach#zzebu", "//:peach#zzebu/base", "//:peach#zzebu/codops-gateway", "//:peach#zzebu/ml",
        "//:peach#zzebu/other", "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex",
        "//:peach#zzebu/tasks/cleanup",
    }


def test_changed_endpoint_file_reaches_only_endpoints_and_tasks(rule_runner: RuleRunner) -> None:
    assert changed_since(rule_runner, "zzebu/peach.conf/endpoints.yaml") == {
        "//:peach#zzebu", "//:peach#zzebu/endpoints/recommend", "//:peach#zzebu/tasks/reindex",
        "//:peach#zzebu/tasks/cleanup",
    }


def test_changed_notebook_reaches_its_endpoint(rule_runner: RuleRunner) -> None:
    assert changed_since(rule_runner, "zzebu/endpoint.ipynb") == {"//:peach#zzebu", "//:peach#zzebu/endpoints/recommend"}


def test_changed_other_codops_does_not_touch_zzebu(rule_runner: RuleRunner) -> None:
    assert changed_since(rule_runner, "debr/peach.yaml") == {
        "//:peach#debr", "//:peach#debr/base", "//:peach#debr/codops-gateway",
    }


def test_changed_framework_stack_reaches_every_environment(rule_runner: RuleRunner) -> None:
    reached = changed_since(rule_runner, "3rdparty/peach/framework-stack.txt")
    assert {"//:peach#zzebu/ml", "//:peach#zzebu/codops-gateway", "//:peach#debr/base"} <= reached


def test_split_environment_files() -> None:
    runner = RuleRunner(rules=[*read_configs.rules(), *generate.rules(), *changed.rules(),
                               QueryRule(ChangedAddresses, [ChangedRequest])],
                        target_types=register.target_types())
    runner.write_files({
        "BUILD": "peach_config(name='peach')",
        "3rdparty/peach/framework-stack.txt": FRAMEWORK,
        "c/peach.conf/base.yaml": "codops: zzebu\npy_environments:\n  base: {dependencies: [a]}\n",
        "c/peach.conf/ml.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [b]}\n",
        "c/peach.conf/gpu.yaml": "codops: zzebu\npy_environments:\n  gpu: {dependencies: [c]}\n",
    })
    runner.set_options([STACK_OPTION])
    # Editing one named environment reaches that environment only; editing base reaches all of them.
    assert changed_since(runner, "c/peach.conf/ml.yaml") == {"//:peach#zzebu", "//:peach#zzebu/ml"}
    assert changed_since(runner, "c/peach.conf/base.yaml") == {
        "//:peach#zzebu", "//:peach#zzebu/base", "//:peach#zzebu/ml", "//:peach#zzebu/gpu",
        "//:peach#zzebu/codops-gateway",
    }


def test_config_errors_surface_with_location(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"debr/peach.yaml": "codops: debr\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: nope}\n"})
    with pytest.raises(Exception) as e:
        rule_runner.request(AllTargets, [])
    assert "debr/peach.yaml:3: `tasks.t.py_env`: unknown environment `nope`" in str(e.value)
    # An unknown environment hides no other problem: the missing notebook is reported in the same run.
    assert "debr/peach.yaml:3: `tasks.t.notebook`: the notebook `debr/t.ipynb` does not exist" in str(e.value)


def test_a_py_env_typo_and_a_method_typo_are_reported_together_each_at_its_key(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"zzebu/peach.conf/endpoints.yaml": dedent("""\
        codops: zzebu
        endpoints:
          recommend:
            url: /recommend
            py_env: ML
            components:
              main:
                notebook: endpoint.ipynb
                method: recomend
        """)})
    with pytest.raises(Exception) as e:
        rule_runner.request(AllTargets, [])
    text = str(e.value)
    assert "2 problems in the peach configs" in text
    assert "zzebu/peach.conf/endpoints.yaml:5: `endpoints.recommend.py_env`: unknown environment `ML`" in text
    assert ("zzebu/peach.conf/endpoints.yaml:9: `endpoints.recommend.components.main.method`: no code cell of "
            "`zzebu/endpoint.ipynb` defines `recomend`") in text


def test_missing_notebook_is_reported(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"debr/peach.yaml": "codops: debr\ntasks:\n  t: {notebook: t.ipynb, method: run}\n"})
    with pytest.raises(Exception) as e:
        rule_runner.request(AllTargets, [])
    assert "debr/peach.yaml:3: `tasks.t.notebook`: the notebook `debr/t.ipynb` does not exist" in str(e.value)


def test_options_change_the_environments(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"stack.txt": "ray[serve]==2.9.0\n"})
    rule_runner.set_options(["--peach-framework-stack=stack.txt", "--peach-injected-requirements=['implicit==0.7.1']",
                             "--peach-gateway-environment=gw"])
    assert rule_runner.get_target(addr("debr/gw"))[RequirementsField].value == ("implicit==0.7.1", "tqdm", "ray[serve]==2.9.0")


def test_the_built_in_framework_stack_is_the_default(rule_runner: RuleRunner) -> None:
    rule_runner.set_options([])
    requirements = rule_runner.get_target(addr("debr/base"))[RequirementsField].value
    assert requirements[-5:] == ("ray[serve]==2.60.0", "fastapi==0.165.0", "pydantic==2.14.3", "starlette==1.10.0",
                                 "protobuf==7.36.2")
    provenance = rule_runner.get_target(addr("debr/base"))[ProvenanceField].value
    assert provenance[-1].source == "peach/framework-stack.txt, built in:8"


def test_escaping_paths(tmp_path) -> None:
    import os

    from peach.read_configs import escaping_paths

    root = tmp_path / "repo"
    (root / "nb").mkdir(parents=True)
    (tmp_path / "outside.ipynb").write_text("{}")
    (root / "nb/inside.ipynb").write_text("{}")
    os.symlink("../../outside.ipynb", root / "nb/relative.ipynb")
    os.symlink(str(tmp_path / "outside.ipynb"), root / "nb/absolute.ipynb")
    os.symlink("inside.ipynb", root / "nb/ok.ipynb")
    paths = ["nb/inside.ipynb", "nb/relative.ipynb", "nb/absolute.ipynb", "nb/ok.ipynb"]
    assert escaping_paths(str(root), paths) == ["nb/relative.ipynb", "nb/absolute.ipynb"]


def test_notebook_symlink_inside_the_repo_is_fine(rule_runner: RuleRunner) -> None:
    import os

    rule_runner.write_files({"shared/nb.ipynb": notebook("recommend", "fallback")})
    link = os.path.join(rule_runner.build_root, "zzebu/endpoint.ipynb")
    os.remove(link)
    os.symlink("../shared/nb.ipynb", link)
    assert rule_runner.get_target(addr("zzebu/endpoints/recommend"))[UrlField].value == "/recommend"
