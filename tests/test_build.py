"""`gopc build` of the compiled example, checked with the real tools, run as users run it.

The CLI (`gopc build examples/shop -o DIR`, `gopc render`) runs in a subprocess; the tree is
taken as `flux bootstrap` leaves it (tests/e2e.py).

- One chart per app; `helm lint --strict` passes for each, with its defaults and with each
  env's values; `helm template` with each env's values gives objects that pass
  kubernetes-validate --strict.
- `kubectl kustomize` builds every kustomization directory; every Flux object passes the Flux
  schemas, every other object kubernetes-validate --strict.
- Every cluster, built as kustomize-controller builds it with every HelmRelease rendered by
  `helm template` (chart values.yaml <- HelmRelease values), validates and equals
  `gopc render --cluster C` (and, with the Flux objects, `gopc render --include-flux`).
- A value that looks like template code reaches the Deployment as written (helm template and
  gopc render); words YAML 1.1 reads as booleans or numbers survive helm and `gopc render`.
- Rebuilds: byte-identical output; an env change rewrites only that env's patch files and
  every other file keeps its inode; a removed app's files go; user files stay; a user file
  where gopc writes stops the build (E0702) unless --force; a build killed at any point
  leaves the previous tree byte for byte, and the next build succeeds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from e2e import (BOOTSTRAP_STAND_IN, ClusterBuild, Written, build_cluster, canonical, kustomize_all, object_id,
                 write_bootstrap_stand_ins)
from helm_fixtures import TemplateCase, helm_template_many

import realtools as rt
from gop.compiler.session import analyse
from gop.compiler.emit.tree import MANIFEST

EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE_FLEET = analyse([EXAMPLE]).fleet
CLUSTERS = sorted(EXAMPLE_FLEET.clusters)
TEMPLATE_CODE = '{{ fail "x" }}'
TRICKY_ENV = {"INJECTED": TEMPLATE_CODE, "FLAG": "yes", "AT": "12:30"}


def gopc(*args, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, env=rt.tool_env(), cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=300)
    assert "Traceback" not in done.stderr
    if check and done.returncode != 0:
        raise AssertionError(f"gopc {' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr}")
    return done


def owned_files(tree: Path) -> list[str]:
    return json.loads((tree / MANIFEST).read_text())["files"]


def tree_state(tree: Path) -> dict[str, tuple[str, int]]:
    """Every file under tree (the manifest too): relative path -> (sha256, inode)."""
    state = {}
    for directory, _, names in os.walk(tree):
        for name in names:
            path = Path(directory) / name
            state[path.relative_to(tree).as_posix()] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.lstat().st_ino)
    return state


def hashes(tree: Path) -> dict[str, str]:
    return {path: digest for path, (digest, _) in tree_state(tree).items()}


def copy_example(tmp_path: Path) -> Path:
    program = tmp_path / "shop"
    shutil.copytree(EXAMPLE, program)
    return program


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------- the compiled example

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Written:
    tree = tmp_path_factory.mktemp("build") / "tree"
    done = gopc("build", EXAMPLE, "-o", tree)
    assert f"in {tree}" in done.stderr
    files = {path: (tree / path).read_text(encoding="utf-8") for path in owned_files(tree)}
    write_bootstrap_stand_ins(tree, CLUSTERS)
    return Written(EXAMPLE_FLEET, tree, files, kustomize_all(tree, files))


def test_one_chart_per_app_and_each_lints_strict(built):
    charts = {path.split("/")[1] for path in built.files if path.startswith("charts/")}
    assert charts == set(EXAMPLE_FLEET.apps) and len(charts) == 4
    for app in charts:
        chart = yaml.safe_load(built.files[f"charts/{app}/Chart.yaml"])
        assert chart["name"] == app
    cases = [(app, None) for app in sorted(charts)] + [
        (path.split("/")[2], built.tree / path) for path in sorted(built.files)
        if re.fullmatch(r"apps/[^/]+/[^/]+/[^/]+-values\.yaml", path) and not path.startswith("apps/base/")]
    env_values = [(app, _values_file(values, built.tree)) for app, values in cases if values is not None]
    assert len(env_values) >= 8  # dev 3 apps, staging 1, prod 4

    def lint(case):
        app, values = case
        return rt.helm_lint_strict(built.tree / "charts" / app, [values] if values else [])

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(lint, [case for case in cases if case[1] is None] + env_values))
    assert all("0 chart(s) failed" in output for output in outputs)


def _values_file(patch: Path, workdir: Path) -> Path:
    """The HelmRelease values of an env patch file, as a Helm values file."""
    release = yaml.safe_load(patch.read_text())
    target = workdir.parent / ("lint-" + "-".join(patch.relative_to(workdir).parts))
    target.write_text(json.dumps(release["spec"]["values"]))
    return target


def test_every_env_renders_valid_objects(built, tmp_path):
    """`helm template` of each chart with each env's effective values (chart values.yaml <-
    the env's HelmRelease patch, as `kubectl kustomize apps/<env>/<app>` leaves it)."""
    env_dirs = sorted(d for d in built.builds if re.fullmatch(r"apps/[^/]+/[^/]+", d) and not d.startswith("apps/base/"))
    assert {d.split("/")[1] for d in env_dirs} == set(EXAMPLE_FLEET.envs)
    cases = []
    for directory in env_dirs:
        (release,) = [doc for doc in built.build(directory) if doc["kind"] == "HelmRelease"]
        app = directory.split("/")[2]
        cases.append(TemplateCase(built.tree / "charts" / app, release["spec"].get("values"), app,
                                  release["metadata"]["namespace"]))
    rendered = helm_template_many(cases, tmp_path)
    deployments = [doc for docs in rendered for doc in docs if doc["kind"] == "Deployment"]
    assert len(deployments) == len(env_dirs)
    everything = [doc for docs in rendered for doc in docs]
    assert rt.kubernetes_validate_strict(everything) == len(everything)


def test_every_kustomization_directory_builds_and_validates(built):
    directories = set(built.builds)
    assert {"apps/base/web", "apps/prod", "apps/prod/web", "clusters/prod-eu-1/apps"} <= directories
    assert all(f"clusters/{cluster}" in directories for cluster in CLUSTERS)
    components = {directory for directory in directories
                  if yaml.safe_load(built.files[f"{directory}/kustomization.yaml"])["kind"] == "Component"}
    assert components == {"components/cn-ingress"}  # they patch what lists them, and build nothing alone
    for directory, docs in built.builds.items():
        ids = [object_id(doc) for doc in docs]
        assert (docs or directory in components) and len(ids) == len(set(ids)), \
            f"{directory} builds nothing, or an object twice"
    everything = [json.loads(text) for text in set(canonical([doc for docs in built.builds.values() for doc in docs]))]
    flux = [doc for doc in everything if rt.is_flux_doc(doc)]
    assert rt.flux_validate(flux) == len(flux) > 3 * len(EXAMPLE_FLEET.apps)
    core = [{key: value for key, value in doc.items() if key != "sops"} for doc in everything
            if not rt.is_flux_doc(doc) and doc != BOOTSTRAP_STAND_IN]
    assert rt.kubernetes_validate_strict(core) == len(core) > 0


@pytest.fixture(scope="module")
def cluster_builds(built, tmp_path_factory) -> dict[str, ClusterBuild]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(CLUSTERS, pool.map(lambda c: build_cluster(built, c, tmp_path_factory.mktemp(c)), CLUSTERS)))


@pytest.fixture(scope="module")
def renders() -> dict[tuple[str, bool], list[dict]]:
    """`gopc render --cluster C` (and with --include-flux), parsed as a YAML 1.1 reader (kubectl) reads them."""
    runs = [(cluster, flux) for cluster in CLUSTERS for flux in (False, True)]

    def render(run):
        cluster, flux = run
        return rt.parse_docs(gopc("render", EXAMPLE, "--cluster", cluster, *(["--include-flux"] if flux else [])).stdout)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(runs, pool.map(render, runs)))


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_cluster_build_equals_gopc_render(cluster_builds, renders, cluster):
    build = cluster_builds[cluster]
    assert set(build.layers) == {"infrastructure", "apps"}
    releases = sorted(doc["metadata"]["name"] for doc in build.everything if doc["kind"] == "HelmRelease")
    assert releases == sorted(EXAMPLE_FLEET.clusters[cluster].instances)
    assert canonical(build.everything) == canonical(renders[cluster, True])
    assert canonical([doc for doc in build.everything if not rt.is_flux_doc(doc)]) == canonical(renders[cluster, False])
    assert any(doc["kind"] == "Deployment" for doc in renders[cluster, False])


@pytest.mark.parametrize("flux", [False, True])
def test_render_of_every_cluster_writes_what_render_of_each_prints(tmp_path, flux):
    include_flux = ["--include-flux"] if flux else []
    done = gopc("render", EXAMPLE, "--all-clusters", "-o", tmp_path / "out", *include_flux)
    assert f"{len(CLUSTERS)} clusters in" in done.stderr
    assert sorted(owned_files(tmp_path / "out")) == [f"{cluster}.yaml" for cluster in CLUSTERS]
    for cluster in CLUSTERS:
        printed = gopc("render", EXAMPLE, "--cluster", cluster, *include_flux).stdout
        assert (tmp_path / "out" / f"{cluster}.yaml").read_text(encoding="utf-8") == printed, cluster


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_cluster_objects_validate(cluster_builds, cluster):
    everything = cluster_builds[cluster].everything
    ids = [object_id(doc) for doc in everything]
    assert len(ids) == len(set(ids)), "an object is applied twice on the cluster"
    flux = [doc for doc in everything if rt.is_flux_doc(doc)]
    assert rt.flux_validate(flux) == len(flux) >= 8
    core = [{key: value for key, value in copy.deepcopy(doc).items() if key != "sops"}
            for doc in everything if not rt.is_flux_doc(doc)]
    assert rt.kubernetes_validate_strict(core) == len(core)


@pytest.fixture(scope="module")
def tricky_web(tmp_path_factory) -> Path:
    """The example with env values of web that are template code, or words YAML 1.1 reads as
    a boolean or a number; built to tree/ beside the program."""
    program = copy_example(tmp_path_factory.mktemp("tricky"))
    extra = "".join(f"\n    {name} = {json.dumps(value)}" for name, value in TRICKY_ENV.items())  # gop escapes as JSON
    edit(program / "apps.gop", 'API_BASE = "https://api.${domain}"', 'API_BASE = "https://api.${domain}"' + extra)
    gopc("build", program, "-o", program.parent / "tree")
    return program


def _web_env(docs: list[dict]) -> dict[str, str]:
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    return {item["name"]: item.get("value") for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_template_code_in_a_value_reaches_the_deployment_as_written(tricky_web):
    templated = rt.helm_template(tricky_web.parent / "tree" / "charts" / "web", release="web", namespace="shop")
    assert {name: _web_env(templated)[name] for name in TRICKY_ENV} == TRICKY_ENV
    rendered = rt.parse_docs(gopc("render", tricky_web, "--cluster", "dev-us-1", "--app", "web").stdout)
    assert _web_env(rendered)["INJECTED"] == TEMPLATE_CODE


def test_gopc_render_output_reads_the_same_in_yaml_1_1(tricky_web):
    rendered = rt.parse_docs(gopc("render", tricky_web, "--cluster", "dev-us-1", "--app", "web").stdout)
    assert {name: _web_env(rendered)[name] for name in TRICKY_ENV} == TRICKY_ENV


# ---------------------------------------------------------------- rebuilding

def test_two_builds_are_byte_identical(built, tmp_path):
    gopc("build", EXAMPLE, "-o", tmp_path / "again")
    first = {path: digest for path, digest in hashes(built.tree).items() if path in built.files or path == MANIFEST}
    assert hashes(tmp_path / "again") == first and len(first) == len(built.files) + 1


def test_an_env_change_rewrites_only_that_envs_patch_files(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    before = tree_state(tree)
    edit(program / "envs.gop", 'values.logLevel = "warn"', 'values.logLevel = "error"')
    done = gopc("build", program, "-o", tree)
    after = tree_state(tree)
    assert set(after) == set(before)
    changed = {path for path in after if after[path][0] != before[path][0]}
    prod_patches = {path for path in before if re.fullmatch(r"apps/prod/[^/]+/[^/]+-values\.yaml", path)}
    assert changed == prod_patches and len(prod_patches) == 4
    assert all("logLevel: error" in (tree / path).read_text() for path in changed)
    assert all(after[path][1] == before[path][1] for path in after if path not in changed and path != MANIFEST)
    assert "(4 written," in done.stderr


def test_removing_an_app_removes_its_files(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    before = set(owned_files(tree))
    apps = (program / "apps.gop").read_text()
    start = apps.index("/// Product recommendations")
    (program / "apps.gop").write_text(apps[:start], encoding="utf-8")
    (program / "tests.gop").unlink()  # its tests name the app removed (E1301 otherwise)
    done = gopc("build", program, "-o", tree)
    after = set(owned_files(tree))
    gone = {path for path in before if "recommendations" in path}
    assert gone and after == before - gone
    assert f"{len(gone)} removed" in done.stderr
    assert not (tree / "charts" / "recommendations").exists() and not (tree / "apps" / "base" / "recommendations").exists()
    assert set(tree_state(tree)) == after | {MANIFEST}
    assert not any("recommendations" in (tree / path).read_text() for path in after)


def test_user_files_survive_a_rebuild(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    mine = {"OWNERS.md": "# our fleet\n", "clusters/prod-eu-1/flux-system/gotk-components.yaml": "# bootstrap's\n",
            "charts/web/NOTES-of-ours.txt": "keep me\n"}
    for path, text in mine.items():
        (tree / path).write_text(text)
    (tree / "scratch" / "empty").mkdir(parents=True)
    edit(program / "envs.gop", "replicas = 6", "replicas = 7")
    done = gopc("build", program, "-o", tree)
    assert {path: (tree / path).read_text() for path in mine} == mine
    assert (tree / "scratch" / "empty").is_dir()
    assert f"{len(mine)} of yours kept" in done.stderr
    assert not set(mine) & set(owned_files(tree))


def test_a_user_file_where_gopc_writes_stops_the_build_unless_forced(built, tmp_path):
    tree = tmp_path / "tree"
    (tree / "charts" / "web").mkdir(parents=True)
    (tree / "charts" / "web" / "values.yaml").write_text("mine: true\n")
    refused = gopc("build", EXAMPLE, "-o", tree, check=False)
    assert refused.returncode == 1
    assert "E0702" in refused.stderr and "charts/web/values.yaml" in refused.stderr and "--force" in refused.stderr
    assert set(tree_state(tree)) == {"charts/web/values.yaml"} and sorted(p.name for p in tmp_path.iterdir()) == ["tree"]
    assert (tree / "charts" / "web" / "values.yaml").read_text() == "mine: true\n"
    gopc("build", EXAMPLE, "-o", tree, "--force")
    assert (tree / "charts" / "web" / "values.yaml").read_text() == built.files["charts/web/values.yaml"]
    assert "charts/web/values.yaml" in owned_files(tree)


# ---------------------------------------------------------------- killed builds

# 0.3 s in (analysis), as the journal appears (nothing or little changed yet), and a moment after (mid-way).
KILL_POINTS = [("after", 0.3), ("journal", 0.0), ("journal", 0.02), ("journal", 0.05)]
JOURNAL = ".gopc-journal"
STAGING = ".gopc-staging"  # what a killed build staged: the next build removes it


def _build_and_kill(program: Path, out: Path, point: tuple[str, float]) -> tuple[int, bool]:
    """Start `gopc build`, SIGKILL it at the point; its exit status, and whether its journal was seen."""
    earlier = _journal_of(out)  # a killed build's: only this build's own counts
    proc = subprocess.Popen([str(GOPC), "build", str(program), "-o", str(out)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=rt.tool_env())
    kind, delay = point
    journal_seen = False
    try:
        if kind == "journal":
            while proc.poll() is None and _journal_of(out) in (None, earlier):
                time.sleep(0.001)
            journal_seen = proc.poll() is None
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        status = proc.wait(timeout=120)
    return status, journal_seen


def _journal_of(out: Path) -> int | None:
    try:
        return (out / JOURNAL).stat().st_ino
    except FileNotFoundError:
        return None


def test_a_killed_build_is_repaired_by_the_next(tmp_path):
    """SIGKILL during analysis, as the journal appears and mid-way through the changes, one kill
    after another: every file is whole (the previous version or the new one), and the next build
    makes the tree a `--no-cache` build into a new directory makes."""
    program, out, fresh = tmp_path / "fleet", tmp_path / "out" / "tree", tmp_path / "fresh"
    subprocess.run([sys.executable, str(rt.REPO_ROOT / "bench" / "fleetgen.py"), str(program), "--apps", "300",
                    "--envs", "1", "--clusters", "1"], check=True, capture_output=True)
    gopc("build", program, "-o", out)
    previous = hashes(out)
    assert len(previous) > 4000
    edit(program / "envs.gop", 'values.logLevel = "debug"', 'values.logLevel = "warn"')
    gopc("build", program, "-o", fresh, "--no-cache")
    wanted = hashes(fresh)
    seen = []
    for point in KILL_POINTS:
        status, journal_seen = _build_and_kill(program, out, point)
        seen.append((point, status, journal_seen))
        state = hashes(out)
        assert all(digest in (previous.get(path), wanted.get(path)) for path, digest in state.items()
                   if path != JOURNAL and not path.endswith(".gopc-new") and not path.startswith(STAGING + "/")), point
    assert [status for _, status, _ in seen[:2]] == [-signal.SIGKILL] * 2 and seen[1][2]
    gopc("build", program, "-o", out)
    assert hashes(out) == wanted and sorted(p.name for p in out.parent.iterdir()) == ["tree"]
    changed = {path for path in wanted if wanted[path] != previous[path]}
    assert set(wanted) == set(previous)
    assert len(changed) == 300 and all(re.fullmatch(r"apps/dev/app\d{4}/app\d{4}-values\.yaml", p) for p in changed)
