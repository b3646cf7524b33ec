"""`gopc diff`, run as users run it.

- Identical programs: exit 0, nothing on stdout. A changed env value: exit 1, and the report
  names each changed object, the changed field and shows a unified diff of its YAML, on
  exactly the clusters of that env; `--cluster` narrows it. Removed apps show as removed.
- `--against-rev` on a temporary git repository: the working tree against HEAD, HEAD against
  an older revision, a revision whose program has errors, a bad revision.
- `--against-build`: a tree written by `gopc build`, rendered with the real kubectl and helm,
  compares equal to the program that wrote it, and a changed program gives the same report as
  comparing the two programs directly.
- Usage errors exit 2 with one line, never a traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt

EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
GOPC = Path(sys.executable).with_name("gopc")
PROD = ["prod-cn-1", "prod-eu-1", "prod-us-1"]
HEADER = re.compile(r"^=== cluster (\S+): (\d+) changed, (\d+) added, (\d+) removed$", re.MULTILINE)


def gopc(*args, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**rt.tool_env(), "GOPC_HELM": str(rt.helm_bin()), "GOPC_KUBECTL": str(rt.kubectl_bin()), **env}
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          cwd=cwd, env=environment, timeout=300)
    assert "Traceback" not in done.stderr
    return done


def headers(report: str) -> dict[str, tuple[int, int, int]]:
    return {cluster: tuple(map(int, counts)) for cluster, *counts in HEADER.findall(report)}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def more_prod_replicas(tmp_path_factory) -> Path:
    """The example with prod's replicas 6 -> 7."""
    program = tmp_path_factory.mktemp("changed") / "shop"
    shutil.copytree(EXAMPLE, program)
    edit(program / "envs.gop", "replicas = 6", "replicas = 7")
    return program


def test_identical_programs_exit_0():
    done = gopc("diff", EXAMPLE, "--against", EXAMPLE)
    assert (done.returncode, done.stdout) == (0, "")
    assert "no differences on 6 cluster(s)" in done.stderr


def test_a_changed_env_value_names_the_objects_and_the_field(more_prod_replicas):
    done = gopc("diff", more_prod_replicas, "--against", EXAMPLE)
    assert done.returncode == 1
    report = done.stdout
    assert sorted(headers(report)) == PROD
    # prod-eu-1 sets checkout's replicas itself: there the env change does not reach checkout.
    prod_eu_1 = report.split("=== cluster prod-eu-1")[1].split("===")[0]
    assert "~ changed apps/v1 Deployment shop/checkout: spec.replicas" not in prod_eu_1
    assert "~ changed apps/v1 Deployment shop/cart: spec.replicas" in prod_eu_1
    assert "~ changed apps/v1 Deployment shop/cart: spec.replicas" in report
    assert "~ changed helm.toolkit.fluxcd.io/v2 HelmRelease shop/cart: spec.values.replicas" in report
    assert re.search(r"^-  replicas: 6$", report, re.MULTILINE) and re.search(r"^\+  replicas: 7$", report, re.MULTILINE)
    assert re.search(rf"^--- {re.escape(str(EXAMPLE))}: prod-us-1: apps/v1 Deployment shop/cart$", report, re.MULTILINE)
    assert re.search(rf"^\+\+\+ {re.escape(str(more_prod_replicas))}: prod-us-1: apps/v1 Deployment shop/cart$",
                     report, re.MULTILINE)
    assert "3 of 6 cluster(s) differ" in done.stderr


def test_only_the_chosen_clusters_are_compared(more_prod_replicas):
    done = gopc("diff", more_prod_replicas, "--against", EXAMPLE, "--cluster", "prod-us-1", "--cluster", "dev-us-1")
    assert done.returncode == 1 and sorted(headers(done.stdout)) == ["prod-us-1"]
    same = gopc("diff", more_prod_replicas, "--against", EXAMPLE, "--cluster", "dev-us-1")
    assert (same.returncode, same.stdout) == (0, "")


def test_a_removed_app_shows_as_removed_objects(tmp_path):
    program = tmp_path / "shop"
    shutil.copytree(EXAMPLE, program)
    apps = (program / "apps.gop").read_text()
    (program / "apps.gop").write_text(apps[:apps.index("/// Product recommendations")])
    (program / "tests.gop").unlink()  # its tests name the app removed (E1301 otherwise)
    done = gopc("diff", program, "--against", EXAMPLE, "--cluster", "prod-us-1")
    assert done.returncode == 1
    (counts,) = headers(done.stdout).values()
    assert counts[0] == counts[1] == 0 and counts[2] >= 5  # Deployment, Service, ConfigMaps, ServiceAccount, HelmRelease, source
    assert "- removed apps/v1 Deployment shop/recommendations" in done.stdout
    assert "- removed helm.toolkit.fluxcd.io/v2 HelmRelease shop/recommendations" in done.stdout
    assert re.search(r"^-kind: Deployment$", done.stdout, re.MULTILINE)


# ---------------------------------------------------------------- git revisions

def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo / "fleet")
    (repo / "README.md").write_text("the fleet\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the example")
    return repo


def test_the_working_tree_against_a_revision(repo):
    assert gopc("diff", "fleet", "--against-rev", "HEAD", cwd=repo).returncode == 0
    edit(repo / "fleet" / "envs.gop", "replicas = 6", "replicas = 7")
    done = gopc("diff", "fleet", "--against-rev", "HEAD", cwd=repo)
    assert done.returncode == 1 and sorted(headers(done.stdout)) == PROD
    assert "--- HEAD: prod-us-1: apps/v1 Deployment shop/cart" in done.stdout
    git(repo, "commit", "-q", "-am", "more replicas")
    assert gopc("diff", "fleet", "--against-rev", "HEAD", cwd=repo).returncode == 0
    older = gopc("diff", "fleet", "--against-rev", "HEAD~1", cwd=repo)
    assert older.returncode == 1 and older.stdout == done.stdout.replace("--- HEAD: ", "--- HEAD~1: ")
    from_elsewhere = gopc("diff", repo / "fleet", "--against-rev", "HEAD~1", cwd=repo.parent)
    assert from_elsewhere.returncode == 1 and sorted(headers(from_elsewhere.stdout)) == PROD


def test_a_revision_with_errors_or_without_the_program(repo):
    edit(repo / "fleet" / "envs.gop", "replicas = 6", "replicas = six")
    git(repo, "commit", "-q", "-am", "broken")
    edit(repo / "fleet" / "envs.gop", "replicas = six", "replicas = 6")
    broken = gopc("diff", "fleet", "--against-rev", "HEAD", cwd=repo)
    assert broken.returncode == 2 and "gopc diff: error[E0905]: HEAD has errors\n" in broken.stderr
    assert re.search(r"HEAD:fleet/envs\.gop:\d+:\d+: error", broken.stderr)
    bad = gopc("diff", "fleet", "--against-rev", "no-such-rev", cwd=repo)
    assert bad.returncode == 2 and "at revision `no-such-rev`" in bad.stderr
    shutil.copytree(repo / "fleet", repo / "new-fleet")
    missing = gopc("diff", "new-fleet", "--against-rev", "HEAD~1", cwd=repo)
    assert missing.returncode == 2 and "cannot read new-fleet at revision `HEAD~1`" in missing.stderr
    shutil.copytree(repo / "fleet", repo.parent / "not-in-git")
    outside = gopc("diff", repo.parent / "not-in-git", "--against-rev", "HEAD", cwd=repo.parent)
    assert outside.returncode == 2 and "not in a git repository" in outside.stderr


# ---------------------------------------------------------------- a built tree

@pytest.fixture(scope="module")
def example_build(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("built") / "tree"
    assert gopc("build", EXAMPLE, "-o", tree).returncode == 0
    return tree


def test_a_build_equals_the_program_that_wrote_it(example_build):
    done = gopc("diff", EXAMPLE, "--against-build", example_build)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert "no differences on 6 cluster(s)" in done.stderr


def test_a_build_against_a_changed_program_reports_what_the_programs_differ_in(example_build, more_prod_replicas):
    built = gopc("diff", more_prod_replicas, "--against-build", example_build)
    direct = gopc("diff", more_prod_replicas, "--against", EXAMPLE)
    assert built.returncode == direct.returncode == 1
    assert built.stdout == direct.stdout.replace(f"--- {EXAMPLE}: ", f"--- {example_build}: ")


def test_a_build_needs_the_tools_and_a_tree(example_build, tmp_path):
    no_kubectl = gopc("diff", EXAMPLE, "--against-build", example_build, GOPC_KUBECTL=str(tmp_path / "none"))
    assert no_kubectl.returncode == 2 and "GOPC_KUBECTL=" in no_kubectl.stderr and "--against-build" in no_kubectl.stderr
    not_a_tree = gopc("diff", EXAMPLE, "--against-build", tmp_path)
    assert not_a_tree.returncode == 2 and "not a tree written by `gopc build`" in not_a_tree.stderr


# ---------------------------------------------------------------- usage

@pytest.mark.parametrize("args,message", [
    (["diff", EXAMPLE], "one of the arguments --against-rev --against-build --against is required"),
    (["diff", EXAMPLE, "--against", EXAMPLE, "--against-rev", "HEAD"], "not allowed with argument"),
    (["diff", EXAMPLE, "--against", EXAMPLE, "--cluster", "nowhere"], "no cluster `nowhere` on either side"),
    (["diff", EXAMPLE, "--against", "/no/such/program"], "/no/such/program has errors"),
])
def test_usage_errors_exit_2(args, message):
    done = gopc(*args)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
