"""`helm template` of releases: run side by side and kept in the disk cache across runs.

- a render through a filled cache runs no `helm template` and equals a render without a cache and
  the render that filled it, byte for byte;
- a re-vendored package (same path, other bytes) and another helm version each miss the cache;
- helm's failure is reported as rendering the releases one by one reports it (the first failing
  release of the cluster), and is never kept on disk: the next render runs helm again;
- rendering the charts of every cluster ahead (`render --all-clusters`) runs each distinct rendering
  once, the clusters' texts then run none and equal those rendered cluster by cluster; a failure
  met ahead is reported by each cluster that has the release, helm not run again for it.

helm is the real one, behind a wrapper that logs each invocation (and can claim another version).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import realtools as rt
from chart_fixtures import make_chart
from gop.compiler.core.diskcache import DiskCache
from gop.compiler.diagnostics import codes
from gop.compiler.lower.flux import releases
from gop.compiler.lower.repository import cluster_renderer, cluster_text
from gop.compiler.session import Session

PROGRAM = '''package fleet

labels { environment: "staging" | "prod" }

source flux-system { url = "https://github.com/acme/fleet" }
source charts { url = "https://github.com/acme/charts", branch = "main" }

release tools {
  chart { git = charts, path = "./charts/tools", name = "tools" }
  values.replicaCount = 1
}

release extra {
  chart { git = charts, path = "./charts/tools", name = "tools" }
  values.replicaCount = 2
}

env staging where environment == "staging" {}
env prod where environment == "prod" {
  release tools { values.replicaCount = 3 }
}

cluster staging-1 { labels { environment = "staging" } }
cluster prod-1 { labels { environment = "prod" } }
cluster prod-2 { labels { environment = "prod" } }
'''

CLUSTERS = ("prod-1", "prod-2", "staging-1")


@pytest.fixture
def program(tmp_path) -> Path:
    root = tmp_path / "fleet"
    root.mkdir()
    (root / "main.gop").write_text(PROGRAM, encoding="utf-8")
    vendor_tools(root, tmp_path / "chart-1")
    return root


def vendor_tools(root: Path, scratch: Path, *, replicas: int = 1, template: str | None = None) -> None:
    """Package a `tools` 0.1.0 chart (with one more template, when given) as the vendored one."""
    chart = make_chart(scratch, "tools", "0.1.0", replicas=replicas)
    if template is not None:
        (chart / "templates" / "extra.yaml").write_text(template, encoding="utf-8")
    package = rt.helm_package(chart, scratch)
    target = root / "vendor" / "charts" / "tools" / "0.1.0"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(package, target / package.name)


@pytest.fixture
def helm_log(tmp_path, monkeypatch) -> Path:
    """GOPC_HELM: the real helm behind a script that logs its arguments; with FAKE_HELM_VERSION
    set, `helm version` prints that instead."""
    log, wrapper = tmp_path / "helm.log", tmp_path / "helm"
    wrapper.write_text(f'''#!/bin/sh
echo "$1" >> "{log}"
if [ "$1" = version ] && [ -n "$FAKE_HELM_VERSION" ]; then echo "$FAKE_HELM_VERSION"; exit 0; fi
exec "{rt.helm_bin()}" "$@"
''', encoding="utf-8")
    wrapper.chmod(0o755)
    log.write_text("")
    monkeypatch.setenv("GOPC_HELM", str(wrapper))
    monkeypatch.delenv("FAKE_HELM_VERSION", raising=False)
    return log


def templates_run(log: Path) -> int:
    """How many `helm template` the wrapper saw since the last call (the log is emptied)."""
    count = log.read_text().split().count("template")
    log.write_text("")
    return count


def render_all(program: Path, disk: DiskCache | None) -> tuple[dict[str, str], list]:
    """Every cluster's text, in a new session (as a new run of `gopc render --all-clusters`)."""
    analysis = Session(disk=disk).analyse([program])
    assert analysis.diagnostics == []
    renderer = cluster_renderer(analysis)
    texts, problems = {}, []
    for cluster in CLUSTERS:
        texts[cluster], found = cluster_text(analysis, cluster, include_flux=False, renderer=renderer)
        problems += found
    return texts, problems


def test_a_render_through_the_filled_cache_runs_no_helm_and_equals_one_without_it(program, helm_log, tmp_path):
    disk = DiskCache(tmp_path / "objects", b"test")
    uncached, problems = render_all(program, None)
    assert problems == [] and templates_run(helm_log) == 3  # tools in staging and prod, extra
    filled, _ = render_all(program, disk)
    assert templates_run(helm_log) == 3
    cached, _ = render_all(program, disk)
    assert templates_run(helm_log) == 0
    assert cached == filled == uncached
    assert "replicas: 3" in cached["prod-1"] and "replicas: 3" not in cached["staging-1"]


def test_a_changed_package_or_another_helm_misses_the_cache(program, helm_log, tmp_path, monkeypatch):
    disk = DiskCache(tmp_path / "objects", b"test")
    before, _ = render_all(program, disk)
    templates_run(helm_log)
    vendor_tools(program, tmp_path / "chart-2", template="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: added\n")
    after, _ = render_all(program, disk)
    assert templates_run(helm_log) == 3
    assert all("name: added" in after[cluster] and "name: added" not in before[cluster] for cluster in CLUSTERS)
    monkeypatch.setenv("FAKE_HELM_VERSION", "v0.0.1+gother")
    again, _ = render_all(program, disk)
    assert templates_run(helm_log) == 3 and again == after


def test_helm_failure_names_the_first_failing_release_and_is_not_kept(program, helm_log, tmp_path):
    disk = DiskCache(tmp_path / "objects", b"test")
    vendor_tools(program, tmp_path / "chart-3", template='{{ fail (printf "no %s" .Release.Name) }}\n')
    analysis = Session(disk=disk).analyse([program])
    first = releases.cluster_releases(analysis.fleet, "prod-1")[0].name
    text, problems = cluster_text(analysis, "prod-1", include_flux=False)
    assert text == "" and [problem.code for problem in problems] == [codes.TOOL_FAILED]
    assert problems[0].message.startswith(f"`helm template` failed for release {first} (tools-0.1.0.tgz): ")
    assert f"extra.yaml:1:3): no {first}\n" in problems[0].message
    templates_run(helm_log)
    _, again = cluster_text(Session(disk=disk).analyse([program]), "prod-1", include_flux=False)
    assert templates_run(helm_log) == 2 and [problem.message for problem in again] == [problems[0].message]


def test_charts_rendered_ahead_run_once_and_give_the_same_texts(program, helm_log, tmp_path):
    by_cluster, _ = render_all(program, None)
    templates_run(helm_log)
    analysis = Session().analyse([program])
    renderer = cluster_renderer(analysis)
    renderer.render_charts_ahead(list(CLUSTERS))
    assert templates_run(helm_log) == 3  # tools in staging, tools in prod (3 replicas), extra everywhere
    ahead = {cluster: cluster_text(analysis, cluster, include_flux=False, renderer=renderer)[0] for cluster in CLUSTERS}
    assert templates_run(helm_log) == 0 and ahead == by_cluster


def test_a_failure_met_ahead_is_reported_by_each_cluster_without_running_helm_again(program, helm_log, tmp_path):
    vendor_tools(program, tmp_path / "chart-4", template='{{ fail "broken" }}\n')
    analysis = Session().analyse([program])
    renderer = cluster_renderer(analysis)
    renderer.render_charts_ahead(list(CLUSTERS))
    assert templates_run(helm_log) == 3
    problems = [cluster_text(analysis, cluster, include_flux=False, renderer=renderer)[1] for cluster in CLUSTERS]
    assert templates_run(helm_log) == 0
    assert [[problem.code for problem in found] for found in problems] == [[codes.TOOL_FAILED]] * 3
