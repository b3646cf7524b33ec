"""Every example's charts as each cluster gets them pass a policy tool platform teams run in CI:
checkov's Kubernetes checks (PyPI `checkov`, installed by `make checkov` into .tools/checkov),
with the few exceptions of SKIPPED, each justified, and listed in docs/policy.md.

A `helm test` pod (`chart.test`) is scanned apart, without the probe checks of HOOK_SKIPPED.

Also examples/workloads (a service of each workload kind) through the real compiler: its charts
pass `helm lint --strict`, and on every cluster `helm template` with that instance's values
equals helm_template and passes kubernetes-validate (strict)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.lower.helm import helm_template, helm_values
from gop.compiler.session import analyse
from gop.compiler.values import plain

CHECKOV = Path(os.environ.get("GOP_CHECKOV") or realtools.REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov")
EXAMPLES = ("networking", "shop", "workloads")

# The checks gopc's charts do not pass, and why; docs/policy.md lists the same ids.
SKIPPED = {
    "CKV_K8S_43": "Image should use digest: apps pin version tags, which Flux image automation rolls forward "
                  "(`imagePolicy`); a digest would freeze them.",
    "CKV_K8S_15": "Image Pull Policy should be Always: with immutable version tags `IfNotPresent` pulls each "
                  "version once; an env sets `image.pullPolicy = \"Always\"` where it wants it.",
    "CKV_K8S_35": "Prefer secrets as files: `secretEnv` and `envFrom.secrets` are how an app asks for a secret "
                  "in its environment; `volumes { x { secret = ... } }` mounts it as files instead.",
    "CKV2_K8S_6": "Pods without a NetworkPolicy: NetworkPolicies are derived per namespace from the app graph "
                  "(issue 13, networking), not written by each app's chart, which is what is scanned here.",
}

# The checks a `helm test` pod does not pass, and why (docs/policy.md says the same).
HOOK_SKIPPED = {
    "CKV_K8S_8": "Liveness probe: a helm test pod runs one request to completion; nothing restarts it.",
    "CKV_K8S_9": "Readiness probe: a helm test pod serves nothing; no Service selects it.",
}


def _is_test_hook(doc: dict) -> bool:
    return (doc["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"


def _rendered_charts(repo_root: Path, example: str, tmp_path: Path) -> tuple[list, list]:
    """(every distinct instance as (app, values), the documents real helm renders for each)."""
    analysis = analyse([repo_root / "examples" / example])
    assert not analysis.diagnostics, [d.message for d in analysis.diagnostics]
    fleet = analysis.fleet
    dirs = {name: fx.write_chart(app, tmp_path / "charts") for name, app in fleet.apps.items()}
    output = fx.helm_lint_many(list(dirs.values()))
    assert output.count("==> Linting") == len(dirs)
    assert "[WARNING]" not in output and "[ERROR]" not in output
    distinct = {id(instance): instance for cluster in fleet.clusters.values() for instance in cluster.instances.values()}
    instances = [(fleet.apps[i.app], plain(i.values)) for i in distinct.values()]
    cases = [fx.TemplateCase(dirs[app.name], helm_values(values), app.name, app.namespace) for app, values in instances]
    return instances, fx.helm_template_many(cases, tmp_path)


def test_workloads_example_renders_like_helm_and_validates(repo_root, tmp_path):
    instances, rendered = _rendered_charts(repo_root, "workloads", tmp_path)
    for (app, values), helm_docs in zip(instances, rendered):
        assert helm_template(app, values, release_name=app.name, namespace=app.namespace) == helm_docs, app.name
    kinds = {doc["kind"] for docs in rendered for doc in docs}
    assert kinds >= {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "PodDisruptionBudget", "Service"}
    realtools.kubernetes_validate_strict(fx.distinct_shapes(doc for docs in rendered for doc in docs))


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_charts_pass_checkov(repo_root, tmp_path, example):
    if not CHECKOV.is_file():
        raise realtools.ToolMissing(f"{CHECKOV} not found: run `make checkov` (tests never skip a missing tool)")
    _, rendered = _rendered_charts(repo_root, example, tmp_path)
    apps = [[doc for doc in docs if not _is_test_hook(doc)] for docs in rendered]
    hooks = [[doc for doc in docs if _is_test_hook(doc)] for docs in rendered]
    reports = _checkov(tmp_path / "manifests", apps, set(SKIPPED))
    if any(hooks):
        reports += _checkov(tmp_path / "hooks", hooks, set(SKIPPED) | set(HOOK_SKIPPED))
    failed = [f"{check['check_id']} {check['check_name']}: {check['resource']}"
              for report in reports for check in report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert sum(report["summary"]["passed"] for report in reports) > 100  # the checks did run


def _checkov(directory: Path, instances: list[list], skipped: set[str]) -> list:
    """checkov's reports on the objects of each instance (a file each), with the checks `skipped` left out."""
    directory.mkdir()
    for index, docs in enumerate(instances):
        if docs:
            (directory / f"instance-{index}.yaml").write_text(
                "".join("---\n" + json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    argv = [str(CHECKOV), "--directory", str(directory), "--framework", "kubernetes", "--skip-check",
            ",".join(sorted(skipped)), "--output", "json", "--quiet", "--compact", "--skip-download"]
    # exit status 1 means findings: read them from the report rather than from the status
    result = subprocess.run(argv, env=realtools.tool_env(), capture_output=True, text=True,
                            timeout=realtools.TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_policy_exceptions_are_documented(repo_root):
    text = (repo_root / "docs" / "policy.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `(CKV2?_K8S_\d+)` \|", text, flags=re.M)) == set(SKIPPED)
    assert set(re.findall(r"^- `(CKV_K8S_\d+)`", text, flags=re.M)) == set(HOOK_SKIPPED)
