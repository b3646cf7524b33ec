"""chart_files: the files of a chart, Chart.yaml and the version policy, values.yaml, determinism;
the Go-JSON writer it relies on (tests/test_yaml_emitter.py checks the YAML emitter)."""

from __future__ import annotations

import json
import re

import yaml
from ruamel.yaml import YAML

import helm_fixtures as fx
import realtools
from gop.compiler.lower.helm import chart_files, chart_version, helm_template
from gop.compiler.emit.gojson import go_json
from gop.compiler.lower.helm.parts import ABSENT_DEFAULTS
from gop.compiler.values import plain

# SemVer 2.0.0 (semver.org), without build metadata: OCI tags cannot hold `+`.
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$")
OCI_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
BASE_FILES = {".helmignore", "Chart.yaml", "values.yaml", "values.schema.json", "templates/_helpers.tpl",
              "templates/deployment.yaml", "templates/NOTES.txt", "templates/serviceaccount.yaml", "templates/pdb.yaml"}


def test_files_follow_the_parts():
    assert set(chart_files(fx.make_app("bare", values_record=None))) == BASE_FILES
    assert set(chart_files(fx.shop_checkout())) == BASE_FILES | {"templates/service.yaml", "templates/configmap.yaml"}
    assert set(chart_files(fx.shop_web())) == BASE_FILES | {
        "templates/service.yaml", "templates/configmap.yaml", "templates/ingress.yaml", "templates/hpa.yaml"}
    everything = fx.make_app(also=[{"ingress": 1, "autoscaling": 1, "serviceAccount": 1}])
    assert "templates/serviceaccount.yaml" in chart_files(everything)



def test_each_workload_kind_has_its_template_and_only_the_kinds_used():
    """A kind's template exists when some layer runs the app as that kind; the PDB only with replicas."""
    daemon = set(chart_files(fx.make_app("agent", workload="DaemonSet")))
    assert {"templates/daemonset.yaml", "templates/serviceaccount.yaml"} <= daemon
    assert not daemon & {"templates/deployment.yaml", "templates/pdb.yaml"}
    both = fx.make_app("ledger", workload="StatefulSet", also=[{"workload": "CronJob"}])
    files = chart_files(both)
    assert {"templates/statefulset.yaml", "templates/cronjob.yaml", "templates/pdb.yaml"} <= set(files)
    assert "templates/deployment.yaml" not in files
    schema = json.loads(files["values.schema.json"])
    assert schema["properties"]["workload"]["enum"] == ["StatefulSet", "CronJob"]
    assert {"statefulSet", "cronJob", "job"} <= set(schema["properties"])
    assert "cronJob" not in json.loads(chart_files(fx.make_app("web"))["values.schema.json"])["properties"]


def test_chart_yaml():
    app = fx.shop_checkout()
    chart = yaml.safe_load(chart_files(app)["Chart.yaml"])
    assert chart == {"apiVersion": "v2", "name": "checkout", "description": "Takes payments and places orders.",
                     "type": "application", "version": chart_version(app), "appVersion": "1.4.2",
                     "kubeVersion": ">=1.23.0-0"}
    undocumented = yaml.safe_load(chart_files(fx.make_app("bare", doc=None))["Chart.yaml"])
    assert undocumented["description"] == "The bare app."


def test_version_is_a_content_hash_valid_as_semver_and_oci_tag():
    app = fx.shop_checkout()
    version = chart_version(app)
    assert re.fullmatch(r"0\.0\.0-g[0-9a-f]{12}", version)
    assert SEMVER.match(version) and OCI_TAG.match(version) and "+" not in version
    assert chart_version(fx.shop_checkout()) == version  # an equal app, built again
    assert chart_version(fx.make_app(**{**_checkout_layer(), "replicas": 4})) != version
    assert chart_version(fx.make_app(**_checkout_layer(), doc="Another doc.")) != version
    labels = {doc["metadata"]["labels"]["helm.sh/chart"] for doc in helm_template(
        app, {}, release_name="checkout", namespace="shop")}
    assert labels == {f"checkout-{version}"}


def _checkout_layer():
    base = fx.shop_checkout().base
    return {key: base[key] for key in ("namespace", "replicas", "ports", "env", "secretEnv", "liveness",
                                       "readiness", "values", "imagePolicy", "delivery")}


def test_output_is_deterministic():
    first = chart_files(fx.shop_web())
    assert first == chart_files(fx.shop_web())
    assert list(first) == sorted(first)


def test_values_yaml_is_the_base_without_flux_fields_with_docs():
    app = fx.shop_checkout()
    text = chart_files(app)["values.yaml"]
    data = YAML(typ="safe", pure=True).load(text)
    assert data == json.loads(json.dumps(fx.instance_values(app)))
    assert list(data) == ["image", "replicas", "ports", "env", "secretEnv", "liveness", "readiness", "config",
                          "values"]  # the workload fields are optional: absent, they cost nothing
    assert "delivery" not in text and "imagePolicy" not in text and "namespace" not in text
    lines = text.splitlines()
    assert lines[lines.index("replicas: 3") - 1] == ("# How many pods run (ignored while autoscaling is on); Deployment "
                                                     "and StatefulSet only.")
    assert lines[lines.index("  paymentTimeout: \"20s\"") - 1] == "  # Give up on a payment after this long."
    assert "# resources: optional, not set" in lines
    assert "# ingress: optional, not set" not in lines  # the chart has no ingress part
    assert "# cronJob: optional, not set" not in lines  # nor a CronJob
    assert "# security: optional, not set" in lines


def test_defaults_the_chart_applies_to_absent_pod_records_are_the_preludes():
    fields = fx.workload_fields()
    for name, defaults in ABSENT_DEFAULTS.items():
        assert json.loads(json.dumps(plain(fx.complete(fields[name].type, {})))) == defaults, name


def test_values_yaml_writes_files_as_literal_blocks():
    text = chart_files(fx.shop_web())["values.yaml"]
    assert "  robots.txt: |2\n    User-agent: *\n    Disallow: /checkout\n" in text


def test_go_json_matches_values_observed_from_helm():
    # Printed by helm v4's toJson for these values read from a values file (all numbers float64).
    observed = {"a": 1, "b": 1.0, "c": 10000000000000000, "d": 0.0000001, "e": 123456789012345678, "f": 1.5e300,
                "g": "x<>&\u2028\b\f\x01\x7f"}
    assert go_json(observed) == (
        '{"a":1,"b":1,"c":10000000000000000,"d":1e-7,"e":123456789012345680,"f":1.5e+300,'
        '"g":"x\\u003c\\u003e\\u0026\\u2028\\b\\f\\u0001\x7f"}')
    assert go_json({"b": [], "a": {}}, pretty=True) == '{\n  "a": {},\n  "b": []\n}'
    assert go_json([1e21, 1e-6, -0.0, 1e-10]) == "[1e+21,0.000001,-0,1e-10]"


def test_chart_version_is_a_pushable_oci_tag(oci_registry, tmp_path):
    app = fx.shop_checkout()
    version = chart_version(app)
    archive = realtools.helm_package(fx.write_chart(app, tmp_path / "src"), tmp_path)
    assert archive.name == f"checkout-{version}.tgz"
    assert f"charts/checkout:{version}" in realtools.helm_push(archive, oci_registry.url("charts"))
    docs = realtools.helm_template(oci_registry.url("charts/checkout"), release="checkout", namespace="shop",
                                   version=version, plain_http=True)
    assert docs == helm_template(app, {}, release_name="checkout", namespace="shop")
