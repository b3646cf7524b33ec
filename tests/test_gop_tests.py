"""`gopc test`: tests written in .gop, run against the evaluated fleet and its rendered objects.

The check of test declarations (E1300-E1304, W1305) is golden (tests/golden/check/tests.txtar);
here: what passes and fails, where a failure points and what it says (actual value, the layer and
line that set it), `no` quantifiers, objects and list items, `--run`, the JUnit report, SARIF,
and that `gopc build` writes the same tree with or without tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from gop.compiler import cli

FLEET = '''\
labels {
  environment: "dev" | "prod"
  region: "us-east-1" | "cn-north-1"
}

source flux-system { url = "https://github.com/acme/fleet" }

app web {
  image { repository = "ghcr.io/acme/web", tag = "3.1.0" }
  ports { http = 3000 }
  resources {
    limits { memory = 512Mi }
  }
}

app recommendations where region != "cn-north-1" {
  image { repository = "ghcr.io/acme/recommendations", tag = "0.9.3" }
}

env prod where environment == "prod" {
  all { replicas = 6, image.pullPolicy = "Always" }
}

env dev where environment == "dev" {}

cluster prod-cn-1 {
  labels { environment = "prod", region = "cn-north-1" }
  app web { replicas = 3 }
}

cluster prod-us-1 {
  labels { environment = "prod", region = "us-east-1" }
}

cluster dev-us-1 {
  labels { environment = "dev", region = "us-east-1" }
}
'''

# Two tests the CI integrations run too (tests/test_integrations.py).
PROD_WEB_TESTS = '''\
test "prod web pulls Always" {
  every cluster where environment == "prod" {
    expect web.image.pullPolicy == "Always"
  }
}

test "prod web has 6 replicas" {
  every cluster where environment == "prod" {
    expect web.replicas == 6
  }
}
'''

TESTS = PROD_WEB_TESTS + '''
test "no cluster in cn-north-1 runs recommendations" {
  no cluster where region == "cn-north-1" {
    expect recommendations exists
  }
}

test "every Deployment has a memory limit" {
  every object where kind == "Deployment" {
    every spec.template.spec.containers {
      expect resources.limits.memory exists
    }
  }
}

test "no LoadBalancer Service" {
  no object where kind == "Service" and spec.type == "LoadBalancer" {}
}

test "memory within bounds" {
  expect web.resources.limits.memory <= 1Gi and web.resources.limits.memory > 256Mi
}
'''


def _program(tmp_path: Path, tests: str = TESTS) -> Path:
    root = tmp_path / "fleet"
    root.mkdir()
    (root / "fleet.gop").write_text(FLEET, encoding="utf-8")
    (root / "tests.gop").write_text(tests, encoding="utf-8")
    return root


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["test", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_passing_and_failing_tests_are_reported_with_a_summary(tmp_path, capsys):
    code, _, err = _run(capsys, _program(tmp_path))
    assert code == cli.EXIT_ERRORS
    lines = [line for line in err.splitlines() if line.startswith(("ok", "FAIL"))]
    assert lines == [
        "ok    prod web pulls Always",
        "FAIL  prod web has 6 replicas",
        "ok    no cluster in cn-north-1 runs recommendations",
        "FAIL  every Deployment has a memory limit",
        "ok    no LoadBalancer Service",
        "ok    memory within bounds",
    ]
    assert err.rstrip().endswith("6 tests: 4 passed, 2 failed")


def test_a_failure_points_at_the_assertion_with_the_value_and_the_layer_that_set_it(tmp_path, capsys):
    root = _program(tmp_path)
    _, _, err = _run(capsys, root, "--run", "6 replicas")
    assert "tests.gop:9:5: error[E1310]: on cluster prod-cn-1: `web.replicas == 6` does not hold" in err
    assert "note: web.replicas is 3, set by cluster override `cluster prod-cn-1` (" in err
    assert "fleet.gop:28:13" in err  # the cluster's assignment, as the note's and the related location
    assert "prod-us-1" not in err  # it holds there


def test_objects_and_list_items_are_named_in_a_failure(tmp_path, capsys):
    _, _, err = _run(capsys, _program(tmp_path), "--run", "memory limit")
    assert ("error[E1310]: on cluster dev-us-1, Deployment recommendations/recommendations, "
            "spec.template.spec.containers[0]: `resources.limits.memory exists` does not hold") in err
    assert "Deployment default/web" not in err and "web/web," not in err  # web has its limit
    assert err.count("error[E1310]") == 2  # recommendations on the two clusters it runs on


def test_no_quantifier_fails_on_each_match_and_names_what_held(tmp_path, capsys):
    tests = 'test "nothing in prod runs recommendations" {\n  no cluster where environment == "prod" {\n    expect recommendations exists\n  }\n}\n'
    code, _, err = _run(capsys, _program(tmp_path, tests))
    assert code == cli.EXIT_ERRORS
    assert ('tests.gop:2:3: error[E1310]: on cluster prod-us-1: matches `no cluster where environment == "prod"`, '
            "and `recommendations exists` holds") in err
    assert "prod-cn-1" not in err


def test_an_app_that_does_not_run_fails_a_comparison_on_it(tmp_path, capsys):
    tests = 'test "recommendations everywhere" {\n  expect recommendations.replicas >= 1\n}\n'
    _, _, err = _run(capsys, _program(tmp_path, tests))
    assert "on cluster prod-cn-1: `recommendations.replicas >= 1` does not hold" in err
    assert "note: `recommendations` does not run on cluster prod-cn-1" in err
    assert err.count("error[E1310]") == 1


def test_run_filters_by_name_and_says_when_nothing_matches(tmp_path, capsys):
    root = _program(tmp_path)
    code, _, err = _run(capsys, root, "--run", "Always")
    assert code == cli.EXIT_OK and "1 test: 1 passed, 0 failed" in err
    code, _, err = _run(capsys, root, "--run", "nothing like it")
    assert code == cli.EXIT_OK and "no tests match --run 'nothing like it'" in err


def test_a_file_alone_runs_its_tests_within_its_program(tmp_path, capsys):
    root = _program(tmp_path)
    code, _, err = _run(capsys, root / "tests.gop")
    assert code == cli.EXIT_ERRORS and "6 tests: 4 passed, 2 failed" in err  # the fleet's labels and apps are known
    code, _, err = _run(capsys, root / "fleet.gop")
    assert code == cli.EXIT_OK and "no tests in the files named" in err


def test_junit_report(tmp_path, capsys):
    report = tmp_path / "out" / "junit.xml"
    report.parent.mkdir()
    code, _, _ = _run(capsys, _program(tmp_path), "--junit", report)
    assert code == cli.EXIT_ERRORS
    suites = ElementTree.parse(report).getroot()
    assert suites.tag == "testsuites" and suites.get("tests") == "6" and suites.get("failures") == "2"
    cases = suites.find("testsuite").findall("testcase")
    assert [case.get("name") for case in cases][:2] == ["prod web pulls Always", "prod web has 6 replicas"]
    assert cases[1].get("file").endswith("tests.gop") and cases[1].get("line") == "7"
    failure = cases[1].find("failure")
    assert failure.get("type") == "E1310"
    assert failure.get("message").startswith("1 assertion failed: on cluster prod-cn-1: `web.replicas == 6`")
    assert "web.replicas is 3, set by cluster override" in failure.text
    assert cases[0].find("failure") is None


def test_junit_report_that_cannot_be_written_is_an_io_error(tmp_path, capsys):
    code, _, err = _run(capsys, _program(tmp_path), "--run", "Always", "--junit", tmp_path / "missing" / "junit.xml")
    assert code == cli.EXIT_USAGE and "error[E0702]: cannot write the JUnit report" in err


def test_sarif_carries_the_failures(tmp_path, capsys):
    code, out, _ = _run(capsys, _program(tmp_path), "--run", "6 replicas", "--format", "sarif")
    assert code == cli.EXIT_ERRORS
    results = json.loads(out)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["E1310"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 9


def test_a_program_with_errors_runs_no_test(tmp_path, capsys):
    code, _, err = _run(capsys, _program(tmp_path, 'test "typo" {\n  expect wbe exists\n}\n'))
    assert code == cli.EXIT_ERRORS
    assert "error[E1301]: no app `wbe`; did you mean `web`?" in err
    assert "FAIL" not in err and "ok " not in err


@pytest.mark.parametrize("tests", ["", 'test "fails" {\n  expect web.replicas == 99\n}\n'])
def test_build_writes_the_same_tree_with_or_without_tests(tmp_path, capsys, tests):
    with_tests = _program(tmp_path, tests)
    assert cli.main(["build", str(with_tests), "-o", str(tmp_path / "a")]) == cli.EXIT_OK
    (with_tests / "tests.gop").unlink()
    assert cli.main(["build", str(with_tests), "-o", str(tmp_path / "b")]) == cli.EXIT_OK
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_the_shop_examples_tests_pass(capsys):
    """examples/shop/tests.gop: the issue's three examples and a cluster override, on the bundled example."""
    code, _, err = _run(capsys, str(Path(__file__).parents[1] / "examples" / "shop"))
    assert code == cli.EXIT_OK, err
    assert err.rstrip().endswith("4 tests: 4 passed, 0 failed")
