"""What would pass `gopc check` and fail later (issue 10, items 7, 9, 10, 11).

- `check` reports every error the Flux lowering can raise (`lower.flux.validate` calls the
  lowering's own functions), so `build` never fails on a program `check` passed; a fleet without
  a `source` gets E0505 from both, at a declaration, not at 1:1.
- The semver ranges Flux accepts (Masterminds/semver v3: examples from its README and tests)
  are accepted, the ones it rejects rejected.
- Ingress hosts and label values as the API server validates them.
The diagnostics' positions are asserted in tests/golden/check/ (sync_source, sync_sources,
impersonation, layered_values, written_values, quantities).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gop.compiler.lower.repository import repository
from gop.compiler.session import analyse
from gop.compiler.fleet.checks.assignments import host_problem
from gop.compiler.fleet.checks.placement import label_value_problem
from gop.compiler.semantic.semver_range import range_problem

# From Masterminds/semver's README and constraints_test.go (TestParseConstraint,
# TestNewConstraint, TestConstraintsCheck): ranges NewConstraint accepts ...
FLUX_ACCEPTS = [
    ">= 1.2", "1.0", "<= 1.2", "=< 1.2", "=> 1.2", "v1.2", "=1.5", "> 1.3", "< 40.50.10",
    ">= 1.1", ">40.50.60, < 50.70", "2.0", "v2.3.5-20161202202307-sha.e8fc5e5", ">= 1.2.3 < 2.0",
    ">= 1.2.3 < 2.0 || => 3.0 < 4", ">= 1.2.3, < 2.0", ">= 1.2.3, < 2.0 || => 3.0, < 4", "3 - 4 || => 3.0, < 4",
    "12.3.34 ~1.2.3", "!=4.1.0", "!=4.1-alpha", "!=4.x", ">0-0", ">0.0-0", ">=0.0.0-0", "<0-z", "*", "*-0", "2.*",
    "2.1.*", "~1.2.3-beta.2", "^1.2.0-alpha.0", "^0", "1.1-3", "^1.2.x-alpha", "~*", "0.x.x", "<=1.1-a", ">1.1, <2",
    ">=1.1, <2, !=1.2.3 || > 3", ">=1.1    <2    !=1.2.3", "> 1.1, <     2", ">= 1.1, <2, != 1.2.3 || > 3",
    "1.1 - 2", "1.5.0 - 4.5", "~1.1-alpha", "^1.1.1-alpha", "!= 1.2.5, ^2, <= 1.1.x", ">=1.0 <1.1 || >=1.2",
    "1.2 - 1.4.5", "1.2.x", ">=1.0.0 <2.0.0", "^2.0.0",
]
# ... and ranges it rejects (plus the two).
FLUX_REJECTS = [
    "foo", ">= bar", "BAR >= 1.2.3", "12.3.4.1234", "12.23.4.1234", "12.3.34.1234", "12.3.34~ 1.2.3",
    "latest", "not a range!!", "1.2 ||", "|| 1.2", ">>1.2", "1.2.3 -2", "!==1.2", ">=1.2.3 <=",
]


@pytest.mark.parametrize("text", FLUX_ACCEPTS)
def test_a_range_flux_accepts_passes(text):
    assert range_problem(text) is None


@pytest.mark.parametrize("text", FLUX_REJECTS)
def test_a_range_flux_rejects_is_reported(text):
    assert range_problem(text) is not None


@pytest.mark.parametrize("host, problem", [
    ("api.acme.io", None), ("a.b-c.d0", None), ("x" * 63 + ".io", None),
    ("api..acme.io", "empty label"), ("api.acme.io.", "empty label"), ("web-.acme.io", "'web-'"),
    ("api.-x.io", "'-x'"), ("x" * 64 + ".io", "64 characters"), ("10.0.0.1", "IP address"),
])
def test_ingress_hosts_as_the_api_server_validates_them(host, problem):
    found = host_problem(host)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("value, problem", [
    ("prod", None), ("", None), ("a.b_c-D9", None), ("x" * 63, None),
    ("x" * 64, "64 characters"), ("core-", "allowed"), ("two words", "allowed"), ("_x", "allowed"),
])
def test_label_values_as_kubernetes_validates_them(value, problem):
    found = label_value_problem(value)
    assert (found is None) if problem is None else (problem in found)


LOWERING_FAILURES = {
    "no source": ("", "E0505"),
    "two sources": ('source a { url = "https://github.com/acme/a" }\nsource b { url = "https://github.com/acme/b" }\n',
                    "E0506"),
    "oci without a registry": ('source flux-system { url = "https://github.com/acme/fleet" }\n'
                               'delivery { charts = "oci" }\n', "E0701"),
}


@pytest.mark.parametrize("case", LOWERING_FAILURES, ids=list(LOWERING_FAILURES))
def test_check_reports_what_build_would_stop_on(case, tmp_path):
    extra, code = LOWERING_FAILURES[case]
    (tmp_path / "a.gop").write_text(
        'labels { environment: "dev" | "prod" }\nenv dev where environment == "dev" {}\n'
        'cluster dev-1 { labels { environment = "dev" } }\n'
        'app web { image { repository = "ghcr.io/acme/web", tag = "1.0.0" } }\n' + extra, encoding="utf-8")
    analysis = analyse([tmp_path])
    checked = [(d.code, d.span, d.message) for d in analysis.diagnostics if d.is_error]
    assert [entry[0] for entry in checked] == [code]
    assert checked[0][1].start > 0  # at a declaration, not at 1:1
    _, build_errors = repository(analysis)
    assert [(d.code, d.span, d.message) for d in build_errors] == checked


def test_no_impersonation_no_system_namespace_error(tmp_path):
    (tmp_path / "a.gop").write_text(
        'labels { environment: "dev" | "prod" }\nenv dev where environment == "dev" {}\n'
        'cluster dev-1 { labels { environment = "dev" } }\n'
        'source flux-system { url = "https://github.com/acme/fleet" }\n'
        'app web { image { repository = "ghcr.io/acme/web", tag = "1.0.0" }\n namespace = "kube-system" }\n',
        encoding="utf-8")
    assert [d.code for d in analyse([tmp_path]).diagnostics] == []


# Where the Flux lowering raises, and what `lower.flux.validate` calls to reach it. A new raise
# elsewhere fails this test: make `lowering_problems` ask for it, then list it here.
RAISES_CHECK_REACHES = {
    ("objects.py", "sync_source"), ("objects.py", "chart_registry"),  # called by lowering_problems
    ("tree.py", "sops_secrets"),  # called by lowering_problems
    ("secrets.py", "*"),  # everything below cluster_sops_secrets, which lowering_problems calls per cluster
    ("render.py", "infrastructure_objects"),  # a cluster name on the command line, not the program
    ("resources.py", "*"),  # everything below resource_plan, which lowering_problems calls
    ("charts.py", "*"),  # render only: a release's vendored chart and helm, which `build` never needs
}


def test_every_raise_of_the_flux_lowering_is_one_check_asks_for():
    import ast as python_ast

    lowering = Path(__file__).resolve().parent.parent / "compiler" / "lower" / "flux"
    found = set()
    for source in sorted(lowering.glob("*.py")):
        tree = python_ast.parse(source.read_text(encoding="utf-8"))
        for function in python_ast.walk(tree):
            if not isinstance(function, python_ast.FunctionDef):
                continue
            for node in python_ast.walk(function):
                if (isinstance(node, python_ast.Raise) and isinstance(node.exc, python_ast.Call)
                        and getattr(node.exc.func, "id", None) == "FluxLoweringError"):
                    module_wide = (source.name, "*") in RAISES_CHECK_REACHES
                    found.add((source.name, "*" if module_wide else function.name))
    assert found, f"no raise of FluxLoweringError found under {lowering}"
    assert found <= RAISES_CHECK_REACHES, f"raised where check does not ask: {sorted(found - RAISES_CHECK_REACHES)}"
