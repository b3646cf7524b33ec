"""helm_template equals real `helm template` on many value combinations, and every chart passes
`helm lint --strict` and kubernetes-validate (strict) for every combination of chart parts."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.lower.helm import chart_parts, helm_template
from gop.compiler.lower.helm.parts import FEATURE_PARTS
from gop.compiler.values import plain
from gop.compiler.semantic.types import Duration, RecordType, SecretRef

PART_VALUES = {  # base values that use each part
    "service": {"ports": {"http": 8080, "metrics": 9100}},
    "ingress": {"ports": {"http": 8080}, "ingress": {"host": "shop.example.com", "className": "nginx", "tls": True}},
    "autoscaling": {"autoscaling": {"min": 2, "max": 5, "cpu": 60}},
    "serviceAccount": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}},
    "config": {"config": {"app.conf": "a = 1\nb = 2\n"}},
    "secretEnv": {"secretEnv": {"DB_PASSWORD": SecretRef("secret", "db", "password")}},
    "values": {"values": {"logLevel": "debug", "features": {"new-cart": True}}},
    "routes": {"ports": {"http": 8080}, "routes": {"hosts": ["shop.example.com", "www.shop.example.com"],
                                                   "paths": [{"path": "/", "match": "Prefix"}, {"path": "/api", "match": "Exact"}]}},
}
PART_LETTERS = {"service": "s", "ingress": "i", "autoscaling": "a", "serviceAccount": "u", "config": "c",
                "secretEnv": "e", "values": "v", "routes": "r"}
# An app with every part, all of them set by other layers than the app: its base uses none.
ALL_PARTS_LAYER = {"ports": {"http": 1}, "ingress": {"host": "x"}, "autoscaling": {"min": 1},
                   "serviceAccount": {"create": True}, "config": {"a": ""}, "secretEnv": {"A": ""}, "values": {"a": 1}}
KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job")
FULL = fx.make_app("checkout", also=[ALL_PARTS_LAYER, *({"workload": kind} for kind in KINDS)])
# Apps of each workload kind, with the pod and container fields set (issue 13).
POD_LAYER = {
    "command": ["/app/run"], "args": ["--port=8080"], "envFrom": {"configMaps": ["settings"], "secrets": ["creds"]},
    "volumes": {"tls": {"secret": "tls"}, "cache": {"emptyDir": {"inMemory": True, "sizeLimit": "1Gi"}},
                "scratch": {"emptyDir": {}}, "claim": {"persistentVolumeClaim": "shared"},
                "bundle": {"projected": {"configMaps": ["a"], "secrets": ["b"]}},
                "token": {"projected": {"configMaps": [], "secrets": [],
                                        "serviceAccountToken": {"audience": "vault", "path": "token"}}}},
    "mounts": {"/etc/tls": {"volume": "tls"}, "/var/cache": {"volume": "cache", "readOnly": False, "subPath": "x"}},
    "initContainers": {"migrate": {"image": {"repository": "ghcr.io/acme/migrate", "tag": "1"}, "command": ["m"],
                                   "env": {"A": "1"}, "resources": {"limits": {"memory": "64Mi"}}}},
    "sidecars": {"proxy": {"image": {"repository": "ghcr.io/acme/proxy", "tag": "2"},
                           "mounts": {"/etc/tls": {"volume": "tls"}}}},
    "startup": {"failureThreshold": 30}, "lifecycle": {"preStop": ["sleep", "5"]},
    "terminationGracePeriodSeconds": 45, "priorityClassName": "high", "nodeSelector": {"disk": "ssd"},
    "tolerations": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
    "affinity": {"zones": ["eu-1a"], "spreadPods": "required"}, "imagePullSecrets": ["registry"],
    "security": {"runAsUser": 10001, "fsGroup": 10001, "addCapabilities": ["NET_BIND_SERVICE"]},
}
# Node affinity beside zones, and pod (anti-)affinity terms beside the app's own spread.
AFFINITY_NODES = {"zones": ["eu-1a", "eu-1b"], "nodes": {
    "required": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["web"]}]},
                 {"matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}]}],
    "preferred": [{"weight": 10, "matchExpressions": [{"key": "cpu-gen", "operator": "Gt", "values": ["3"]}]}]}}
AFFINITY_PODS = {"spreadPods": "required", "nodes": {
    "preferred": [{"weight": 1, "matchExpressions": [{"key": "ssd", "operator": "Exists"}]}]},
    "podAffinity": [{"apps": ["cache"], "topologyKey": "kubernetes.io/hostname"},
                    {"apps": ["db", "queue"], "topologyKey": "topology.kubernetes.io/zone", "weight": 30}],
    "podAntiAffinity": [{"apps": ["batch"], "topologyKey": "kubernetes.io/hostname", "weight": 100}]}
KIND_APPS = [
    fx.make_app("deploy", replicas=3, disruptionBudget={"minAvailable": 2}, ports={"http": 8080}, **POD_LAYER),
    fx.make_app("stateful", workload="StatefulSet", replicas=2, ports={"sql": 5432},
                autoscaling={"min": 2, "max": 4, "cpu": 75}, lifecycle={"preStopSleep": {"seconds": 5}},
                statefulSet={"podManagementPolicy": "Parallel",
                             "volumeClaimTemplates": {"data": {"size": "10Gi", "storageClassName": "ssd"}}}),
    fx.make_app("governed", workload="StatefulSet", statefulSet={"serviceName": "db"}, topologySpread={"zones": "off"}),
    fx.make_app("daemon", workload="DaemonSet", tolerations=[{"operator": "Exists"}], security={"tmpVolume": False}),
    fx.make_app("cron", workload="CronJob", cronJob={"schedule": "*/5 * * * *", "timeZone": "Europe/Paris",
                                                     "startingDeadlineSeconds": 60},
                job={"backoffLimit": 1, "ttlSecondsAfterFinished": 600}),
    fx.make_app("batch", workload="Job", job={"restartPolicy": "Never", "completions": 3, "parallelism": 2},
                **POD_LAYER),
    fx.make_app("placed", replicas=2, affinity=AFFINITY_NODES, lifecycle={"postStartSleep": {"seconds": 1}}),
    fx.make_app("near", replicas=2, affinity=AFFINITY_PODS),
]


def parts_app(parts: tuple[str, ...]):
    """An app whose base values use exactly these parts (plus what they imply)."""
    layer: dict[str, Any] = {"liveness": {}, "resources": {"requests": {"cpu": "250m"}}}
    for part in parts:
        layer.update(PART_VALUES[part])
    values_record = fx.CHECKOUT_VALUES if "values" in parts else None
    name = "app-" + "".join(PART_LETTERS[p] for p in parts) if parts else "bare"
    return fx.make_app(name, values_record=values_record, **layer)


ALL_SUBSETS = [subset for size in range(len(FEATURE_PARTS) + 1)
               for subset in itertools.combinations(FEATURE_PARTS, size)]


def test_every_part_combination_lints_strict_and_validates(tmp_path):
    apps = [parts_app(subset) for subset in ALL_SUBSETS]
    assert len({app.name for app in apps}) == len(apps) == 2 ** len(FEATURE_PARTS)
    for app, subset in zip(apps, ALL_SUBSETS):
        assert chart_parts(app) == {"deployment", "serviceAccount", "disruptionBudget", *subset} | (
            {"service"} if {"ingress", "routes"} & set(subset) else set())
    dirs = [fx.write_chart(app, tmp_path / "charts") for app in apps]
    # Charts whose parts come from other layers: their values.yaml leaves those parts unset.
    dirs += [fx.write_chart(app, tmp_path / "other") for app in (FULL, fx.shop_web())]
    kind_dirs = [fx.write_chart(app, tmp_path / "kinds") for app in KIND_APPS]
    dirs += kind_dirs

    output = fx.helm_lint_many(dirs)
    assert output.count("==> Linting") == len(dirs)
    assert " 0 chart(s) failed" in output
    assert "[WARNING]" not in output and "[ERROR]" not in output

    sample = dirs[:len(apps):len(apps) // 16] + [dirs[len(apps) - 1]]  # helm template is slow: a spread of 17
    sample += kind_dirs
    rendered = fx.helm_template_many([fx.TemplateCase(d, release=d.name, namespace="ns") for d in sample],
                                     tmp_path)
    by_name = {app.name: app for app in [*apps, *KIND_APPS]}
    realtools.kubernetes_validate_strict(fx.distinct_shapes(doc for docs in rendered for doc in docs))
    for chart_dir, docs in zip(sample, rendered):
        app = by_name[chart_dir.name]
        assert docs == helm_template(app, plain(app.base), release_name=app.name, namespace="ns")
    assert {doc["kind"] for docs in rendered for doc in docs} == {
        "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "ServiceAccount", "ConfigMap",
        "PodDisruptionBudget", "StatefulSet", "DaemonSet", "CronJob", "Job"}


# ---------------------------------------------------------------- parity on value combinations

RELEASES = ["checkout", "prod-checkout", "r", "x" * 53, "eu1"]


def random_values(rng: random.Random) -> dict[str, Any]:
    """Instance values of FULL: each optional part on or off, in one of its shapes."""
    values: dict[str, Any] = {"replicas": rng.randint(0, 1000)}
    values["image"] = {"repository": "ghcr.io/acme/checkout", "tag": rng.choice(["1.4.2", "_x.", "v" * 128, "latest"]),
                       "pullPolicy": rng.choice(["Always", "IfNotPresent", "Never"])}
    values["ports"] = rng.choice([{}, {"http": 8080}, {"metrics": 9100, "grpc": 9000}, {"http": 80, "admin": 81}])
    values["env"] = rng.choice([{}, {"B": "2", "A": "1"}])
    values["secretEnv"] = rng.choice([{}, {"TOKEN": {"secret": "api", "key": "token"}}])
    values["config"] = rng.choice([{}, {"robots.txt": "User-agent: *\nDisallow: /checkout\n", "b.json": "{}"}])
    values["values"] = rng.choice([{}, {"logLevel": "warn", "paymentTimeout": "1m30s", "features": {"b": True}},
                                   {"features": {"x": False}, "paymentProvider": "adyen"}])
    if rng.random() < 0.5:
        values["resources"] = rng.choice([{}, {"requests": {"cpu": "250m"}},
                                          {"requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}])
    for probe in ("liveness", "readiness"):
        if rng.random() < 0.5:
            values[probe] = fx.complete(fx.PROBE, rng.choice([{}, {"path": "/ready", "port": "metrics",
                                                                   "initialDelaySeconds": 5}]))
    if rng.random() < 0.6:
        ingress: dict[str, Any] = {"host": "shop.example.com", "tls": rng.random() < 0.5,
                                   "path": rng.choice(["/", "/api"]),
                                   "annotations": rng.choice([{}, {"a.b/c": "d", "x": "1"}])}
        if rng.random() < 0.5:
            ingress["className"] = "nginx"
        if rng.random() < 0.5:
            ingress["tlsSecret"] = "shop-tls"
        values["ingress"] = fx.complete(fx.INGRESS, ingress)
    if rng.random() < 0.5:
        values["autoscaling"] = fx.complete(fx.AUTOSCALING, {"min": 2, "max": rng.randint(2, 10)})
    if rng.random() < 0.6:
        account: dict[str, Any] = {"create": rng.random() < 0.6, "annotations": rng.choice([{}, {"k": "v"}]),
                                   "automountToken": rng.random() < 0.3}
        if rng.random() < 0.5:
            account["name"] = "runner"
        values["serviceAccount"] = fx.complete(fx.SERVICE_ACCOUNT, account)
    values.update(random_workload(rng))
    return values


def random_workload(rng: random.Random) -> dict[str, Any]:
    """The workload kind, its settings and the pod fields, each in one of its shapes (complete)."""
    kind = rng.choice(KINDS)
    values: dict[str, Any] = {"workload": kind}
    if kind == "StatefulSet" and rng.random() < 0.8:
        values["statefulSet"] = rng.choice([
            {"podManagementPolicy": "Parallel"}, {"serviceName": "db"},
            {"volumeClaimTemplates": {"data": {"size": "1Gi", "accessModes": ["ReadWriteOncePod"]}}}])
    if kind == "CronJob":
        values["cronJob"] = rng.choice([{"schedule": "@hourly"}, {
            "schedule": "0 3 * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Allow", "suspend": True}])
    if kind in ("Job", "CronJob") and rng.random() < 0.7:
        values["job"] = rng.choice([{}, {"restartPolicy": "Never", "activeDeadlineSeconds": 30}])
    for name, shapes in (("command", [[], ["/bin/x", "-v"]]), ("args", [[], ["a b", "--x=1"]]),
                         ("nodeSelector", [{}, {"b": "2", "a": "1"}]), ("imagePullSecrets", [[], ["r1", "r2"]]),
                         ("tolerations", [[], [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]]),
                         ("volumes", [{}, POD_LAYER["volumes"]]), ("mounts", [{}, POD_LAYER["mounts"]]),
                         ("sidecars", [{}, POD_LAYER["sidecars"]]), ("initContainers", [{}, POD_LAYER["initContainers"]]),
                         ("envFrom", [{}, {"secrets": ["s"]}]),
                         ("topologySpread", [{}, {"zones": "off"}, {"zones": "off", "nodes": "off"},
                                             {"nodes": "DoNotSchedule", "maxSkew": 2}]),
                         ("security", [{}, {"tmpVolume": False, "dropAllCapabilities": False},
                                       {"runAsGroup": 5, "seccompProfile": "Unconfined", "readOnlyRootFilesystem": False}]),
                         ("disruptionBudget", [{}, {"enabled": False}, {"minAvailable": 1}, {"maxUnavailable": 2}])):
        values[name] = rng.choice(shapes)
    for name, shapes in (("startup", [{}, {"path": "/started"}]),
                         ("lifecycle", [{}, {"postStart": ["x"]}, {"preStopSleep": {"seconds": 5}},
                                        {"postStartSleep": {"seconds": 1}, "preStop": ["y"]}]),
                         ("affinity", [{}, {"spreadPods": "preferred"}, AFFINITY_NODES, AFFINITY_PODS]),
                         ("terminationGracePeriodSeconds", [0, 60]), ("priorityClassName", ["high"])):
        if rng.random() < 0.5:
            values[name] = rng.choice(shapes)
    return fx.complete(RecordType("Workload", fx.workload_fields(), None), values)


def parity_cases() -> list[tuple[dict[str, Any], str, str]]:
    rng = random.Random(4)
    cases = [(random_values(rng), rng.choice(RELEASES), rng.choice(["shop", "default"])) for _ in range(30)]
    everything = fx.instance_values(
        FULL, ports={"http": 8080}, env={"A": "1"}, secretEnv={"T": {"secret": "s", "key": "k"}},
        config={"f": "x"}, resources={"limits": {"cpu": "1"}}, liveness=fx.complete(fx.PROBE, {}),
        readiness=fx.complete(fx.PROBE, {}), ingress=fx.complete(fx.INGRESS, {"host": "a.b", "tls": True}),
        autoscaling=fx.complete(fx.AUTOSCALING, {}), serviceAccount=fx.complete(fx.SERVICE_ACCOUNT, {}))
    nothing = fx.instance_values(FULL)
    return cases + [(everything, "checkout", "shop"), (nothing, "checkout", "shop")]


def test_helm_template_equals_real_helm_on_value_combinations(tmp_path):
    chart_dir = fx.write_chart(FULL, tmp_path)
    cases = parity_cases()
    rendered = fx.helm_template_many([fx.TemplateCase(chart_dir, v, r, n) for v, r, n in cases], tmp_path)
    kinds_seen: set[tuple[str, ...]] = set()
    for (values, release, namespace), helm_docs in zip(cases, rendered):
        ours = helm_template(FULL, values, release_name=release, namespace=namespace)
        assert ours == helm_docs, (values, release)
        kinds_seen.add(tuple(doc["kind"] for doc in ours))
    realtools.kubernetes_validate_strict(fx.distinct_shapes(doc for docs in rendered for doc in docs))
    assert ("ServiceAccount", "ConfigMap", "ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler",
            "Ingress") in kinds_seen  # helm's install order, everything on
    assert ("ServiceAccount", "ConfigMap", "ConfigMap", "Deployment") in kinds_seen  # everything off: still its own account
    assert {kind for kinds in kinds_seen for kind in kinds} >= {*KINDS, "PodDisruptionBudget"}
    assert len(kinds_seen) >= 8


def test_helm_template_ignores_flux_fields_and_merges_over_base():
    app = fx.shop_checkout()
    with_flux = plain(app.base)
    with_flux["delivery"]["retries"] = 9
    assert helm_template(app, with_flux, release_name="checkout", namespace="shop") == helm_template(
        app, {"replicas": 3}, release_name="checkout", namespace="shop")
    (deployment,) = [d for d in helm_template(app, {"replicas": 7, "env": {"B": "x"}}, release_name="checkout",
                                           namespace="shop") if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 7
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["B", "ORDERS_URL", "DB_PASSWORD"]


def test_numbers_in_app_values_print_like_helm(tmp_path):
    """values.json and its checksum depend on Go's float64 formatting of every number."""
    app = fx.make_app("numbers", values_record=None, values={"n": 1})
    chart_dir = fx.write_chart(app, tmp_path)
    numbers = {"int": 3, "float": 1.0, "half": 0.5, "big": 10 ** 16, "huge": 123456789012345678,
               "tiny": 1e-7, "small": 0.000001, "exp": 1.5e300, "neg": -2.25, "zero": 0, "e21": 1e21,
               "list": [1, 2.5, True, None, "s"], "nested": {"b": {}, "a": []}}
    cases = [{"values": numbers}, {"values": {"duration": str(Duration.parse("90s"))}}]
    rendered = fx.helm_template_many([fx.TemplateCase(chart_dir, v, "numbers", "x") for v in cases], tmp_path)
    for values, helm_docs in zip(cases, rendered):
        assert helm_template(app, values, release_name="numbers", namespace="x") == helm_docs


@pytest.mark.parametrize("release, expected", [
    ("checkout", "checkout"), ("prod-checkout-eu", "prod-checkout-eu"), ("eu", "eu-checkout"),
    ("a" * 60, "a" * 60 + "-ch"), ("a" * 62, "a" * 62)])
def test_object_names_follow_release_name(release, expected):
    docs = helm_template(fx.shop_checkout(), {}, release_name=release, namespace="shop")
    assert {doc["metadata"]["name"] for doc in docs} == {expected, expected + "-values"}


def test_autoscaling_targets_the_instance_workload(tmp_path):
    """An app that is a Deployment in one env and a StatefulSet in another: each instance's HPA scales
    its own workload (real helm agrees); a chart of one kind names it in the template itself."""
    app = fx.make_app("ledger", ports={"sql": 5432}, autoscaling={"min": 2, "max": 4, "cpu": 75},
                      also=[{"workload": "Deployment"}, {"workload": "StatefulSet"}])
    chart_dir = fx.write_chart(app, tmp_path)
    cases = [fx.instance_values(app), fx.instance_values(app, workload="StatefulSet")]
    rendered = fx.helm_template_many([fx.TemplateCase(chart_dir, values, "ledger", "db") for values in cases], tmp_path)
    targets = []
    for values, helm_docs in zip(cases, rendered):
        assert helm_template(app, values, release_name="ledger", namespace="db") == helm_docs
        (hpa,) = [doc for doc in helm_docs if doc["kind"] == "HorizontalPodAutoscaler"]
        (workload,) = [doc for doc in helm_docs if doc["kind"] in ("Deployment", "StatefulSet")]
        assert "replicas" not in workload["spec"]  # the HPA owns them
        targets.append((hpa["spec"]["scaleTargetRef"]["kind"], workload["kind"]))
    assert targets == [("Deployment", "Deployment"), ("StatefulSet", "StatefulSet")]
    stateful = fx.make_app("db", workload="StatefulSet", autoscaling={"min": 2, "max": 4, "cpu": 75})
    assert "kind: StatefulSet\n" in fx.write_chart(stateful, tmp_path / "one").joinpath("templates/hpa.yaml").read_text()


def test_the_headless_service_carries_the_apps_ports(tmp_path):
    """A StatefulSet's governing Service has the app's ports (SRV records need them), as helm renders it."""
    stateful = KIND_APPS[1]
    docs = realtools.helm_template(fx.write_chart(stateful, tmp_path), release="stateful", namespace="ns")
    assert docs == helm_template(stateful, plain(stateful.base), release_name="stateful", namespace="ns")
    (headless,) = [doc for doc in docs if doc["metadata"]["name"] == "stateful-headless"]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["ports"] == [{"name": "sql", "port": 5432, "targetPort": "sql", "protocol": "TCP"}]
    realtools.kubernetes_validate_strict([headless])
    portless = fx.make_app("portless", workload="StatefulSet")
    docs = realtools.helm_template(fx.write_chart(portless, tmp_path), release="portless", namespace="ns")
    assert docs == helm_template(portless, plain(portless.base), release_name="portless", namespace="ns")
    (headless,) = [doc for doc in docs if doc["metadata"]["name"] == "portless-headless"]
    assert "ports" not in headless["spec"]
