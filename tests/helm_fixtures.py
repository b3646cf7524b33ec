"""Hand-built `AppModel`s for the Helm lowering tests, until evaluation produces real ones.

The RecordTypes mirror stdlib/prelude.gop (App, Image, Probe, Ingress, Autoscaling,
ServiceAccount, Resources, ResourceAmounts, Delivery, ImagePolicy) and
examples/shop/lib/types.gop (CheckoutValues); test_helm_fixtures.py checks field names,
optionality and docs against the parsed .gop files, so the mirror cannot drift silently.

`make_app(name, **app_layer)` builds an AppModel the way evaluation is expected to: defaults
filled in at every level (`complete`), features computed from every layer's values
(`features_of`). `write_chart` writes a chart directory for the real tools;
`helm_template_many` and `helm_lint_many` run real helm on many cases at once.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import realtools
import yaml

from gop.compiler.lower.helm import chart_files, helm_values
from gop.compiler.language import WORKLOAD_PARTS
from gop.compiler.session import analyse
from gop.compiler.fleet.model import AppModel
from gop.compiler.values import plain
from gop.compiler.core.span import Span
from gop.compiler.semantic.types import (
    DATA_KEY, AnyType, BoolType, Duration, DurationType, EnumType, Field, IntType, ListType, MapType, Quantity,
    QuantityType, RecordType, ResourceRefType, SecretRef, SecretType, StringType,
)

SPAN = Span("apps.gop", 0, 0)

DNS_LABEL = StringType(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", min_length=1, max_length=63)
PORT = IntType(1, 65535)
PORT_NAME = StringType(pattern="^[a-z](-?[a-z0-9])*$", min_length=1, max_length=15)
ENV_NAME = StringType(pattern="^[A-Za-z_][A-Za-z0-9_]*$")
FILE_NAME = DATA_KEY  # the prelude's config keys are keys of a ConfigMap
STRING_MAP = MapType(StringType(), StringType())


def field(name: str, type_, doc: str, *, optional: bool = False, default: Any = None,
          has_default: bool | None = None) -> tuple[str, Field]:
    has_default = default is not None if has_default is None else has_default
    return name, Field(name, type_, optional, default, has_default, doc)


def record(name: str, doc: str, *fields: tuple[str, Field], open: bool = False) -> RecordType:
    return RecordType(name, dict(fields), doc, open)


IMAGE = record(
    "Image", "The container image an app runs.",
    field("repository", StringType(pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$", min_length=1, max_length=255),
          'Registry and repository, without the tag, e.g. "ghcr.io/acme/web" (the docker reference grammar).'),
    field("tag", StringType(pattern="^[A-Za-z0-9_][A-Za-z0-9_.-]*$", min_length=1, max_length=128),
          "The tag to run; it is also the chart's appVersion."),
    field("pullPolicy", EnumType(("Always", "IfNotPresent", "Never")), "When the kubelet pulls the image.",
          default="IfNotPresent"),
)
RESOURCE_AMOUNTS = record(
    "ResourceAmounts", "CPU and memory amounts.",
    field("cpu", QuantityType(minimum=Quantity.parse("1m")), "CPU cores, e.g. 250m or 1.", optional=True),
    field("memory", QuantityType(minimum=Quantity.parse("1Mi")), "Memory, e.g. 256Mi.", optional=True),
)
RESOURCES = record(
    "Resources", "What the container asks for and what it may use at most.",
    field("requests", RESOURCE_AMOUNTS, "Reserved for the container when it is scheduled.", optional=True),
    field("limits", RESOURCE_AMOUNTS, "The container is throttled (CPU) or killed (memory) above these.",
          optional=True),
)
PROBE = record(
    "Probe", "An HTTP health check.",
    field("path", StringType(pattern="^/.*"), "The HTTP path to GET.", default="/healthz"),
    field("port", PORT_NAME, "The name of the port to probe (a key of `ports`).", default="http"),
    field("initialDelaySeconds", IntType(0, 3600), "Seconds to wait after start before the first check.",
          default=0),
    field("periodSeconds", IntType(1, 3600), "Seconds between checks.", default=10),
    field("timeoutSeconds", IntType(1, 3600), "Seconds one check may take.", default=1),
    field("failureThreshold", IntType(1, 100), "Consecutive failures before the check counts as failed.",
          default=3),
)
INGRESS = record(
    "Ingress", "How the app is reached from outside the cluster.",
    field("host", StringType(pattern="^([*][.])?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", min_length=1, max_length=253),
          'The host name, e.g. "shop.example.com" or "*.example.com".'),
    field("path", StringType(pattern="^/.*"), "The URL path prefix routed to the app.", default="/"),
    field("port", PORT_NAME, 'The name of the port it routes to (a key of `ports`); defaults to the only port, '
          'else to "http".', optional=True),
    field("className", StringType(), "The ingress class (controller) that serves it.", optional=True),
    field("tls", BoolType(), "Serve HTTPS with the certificate in `tlsSecret`.", default=False),
    field("tlsSecret", DNS_LABEL, 'The Secret holding the TLS certificate; defaults to "<app>-tls".', optional=True),
    field("annotations", STRING_MAP, "Annotations for the ingress controller.", default={}),
)
AUTOSCALING = record(
    "Autoscaling", "Horizontal pod autoscaling: on CPU usage, on `scalingMetrics`, or both.",
    field("min", IntType(1, 1000), "Never fewer replicas than this.", default=1),
    field("max", IntType(1, 1000), "Never more replicas than this.", default=3),
    field("cpu", IntType(1, 100), "Target average CPU utilisation, in percent of the requests; absent: 80 unless "
          "`scalingMetrics`\nare set (then CPU is not a metric).", optional=True),
)
SERVICE_ACCOUNT = record(
    "ServiceAccount", "The Kubernetes service account the app runs as.",
    field("create", BoolType(), "Create the service account with the app.", default=True),
    field("name", DNS_LABEL, "Its name; defaults to the app's name.", optional=True),
    field("annotations", STRING_MAP, "Annotations, e.g. a cloud IAM role.", default={}),
    field("automountToken", BoolType(), "Mount the service account's API token in the pods (off: most apps never "
          "call the API server).", default=False),
)
DELIVERY = record(
    "Delivery", "How Flux reconciles the app's HelmRelease.",
    field("interval", DurationType(Duration.parse("10s"), Duration.parse("24h")), "How often Flux checks the release.",
          default=Duration.parse("5m")),
    field("timeout", DurationType(Duration.parse("10s"), Duration.parse("2h")),
          "How long an install or upgrade may take.", default=Duration.parse("5m")),
    field("retries", IntType(0, 100), "How often a failed install or upgrade is retried.", default=3),
    field("dependsOn", ListType(ResourceRefType("app")), "Apps that must be ready before this one is installed.",
          default=()),
    field("stage", ResourceRefType("stage"), "The delivery stage the app is applied in; defaults to the stage `apps`.",
          optional=True),
    # issue 13: release settings (their own records are checked by the type checker, not mirrored here)
    field("releaseName", StringType(min_length=1, max_length=53),
          "The Helm release name; defaults to the app's name. Object names are derived from it.", optional=True),
    field("install", AnyType(), "How Flux installs the release, and what it does when an install fails.", optional=True),
    field("upgrade", AnyType(), "How Flux upgrades the release, and what it does when an upgrade fails.", optional=True),
    field("driftDetection", EnumType(("enabled", "warn", "disabled")),
          "Whether Flux compares the cluster with the release and corrects what was changed by hand:\n"
          '"enabled" corrects, "warn" only reports, "disabled" (Flux\'s default) neither.', optional=True),
)
TAG_ORDER = EnumType(("asc", "desc"))
IMAGE_POLICY = record(
    "ImagePolicy", "Which new image tags Flux may roll out automatically: exactly one of `semver`, `alphabetical`\n"
    "and `numerical` orders the tags, optionally after `filterTags`.",
    field("semver", StringType(min_length=1), 'A semver range, e.g. ">=1.4.0 <2.0.0" or "^2.0.0": the highest version in it wins.',
          optional=True),
    field("alphabetical", TAG_ORDER, 'Order the tags (or what `filterTags.extract` takes of them) as text: "asc" picks '
          'the last, "desc" the first.', optional=True),
    field("numerical", TAG_ORDER, 'Order the tags (or what `filterTags.extract` takes of them) as numbers: "asc" picks '
          'the largest, "desc" the smallest.', optional=True),
    field("filterTags", AnyType(), "Only tags matching a pattern take part, compared by the part `extract` takes.",
          optional=True),
    field("interval", DurationType(Duration.parse("1m"), Duration.parse("24h")),
          "How often the registry is scanned for new tags.", default=Duration.parse("5m")),
)
HOST_NAME = StringType(pattern="^([*][.])?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", min_length=1, max_length=253)
ROUTE_PATH = record(
    "RoutePath", "A path of `routes`, and the port it goes to.",
    field("path", StringType(pattern="^/[^ ]*$", min_length=1, max_length=1024), 'The URL path, e.g. "/" or "/api".'),
    field("match", EnumType(("Prefix", "Exact")), '"Prefix": the path and everything below it; "Exact": the path only.',
          default="Prefix"),
    field("port", PORT_NAME, 'The name of the port it routes to (a key of `ports`); defaults to "http", else to the only '
          'port.', optional=True),
)
GATEWAY_REF = record(
    "GatewayRef", "The Gateway an HTTPRoute attaches to.",
    field("name", HOST_NAME, "The Gateway's name."),
    field("namespace", DNS_LABEL, "Its namespace; defaults to the app's.", optional=True),
    field("sectionName", DNS_LABEL, 'The listener of the Gateway to attach to, e.g. "https".', optional=True),
)
ROUTES = record(
    "Routes", "HTTP routes to an app (`routes`): every host serves every path.",
    field("api", EnumType(("Ingress", "HTTPRoute")), 'The API that routes the traffic: "Ingress" (networking.k8s.io/v1, '
          'served by `className`) or\n"HTTPRoute" (gateway.networking.k8s.io/v1, attached to `gateway`).',
          default="Ingress"),
    field("hosts", ListType(HOST_NAME, 1, 16), 'The host names served, e.g. ["shop.example.com", "www.shop.example.com"].'),
    field("paths", ListType(ROUTE_PATH, 1, 16), "The paths, each routed to a port of the app."),
    field("gateway", GATEWAY_REF, 'The Gateway an HTTPRoute attaches to (required for "HTTPRoute").', optional=True),
    field("className", StringType(), "The ingress class (controller) that serves an Ingress.", optional=True),
    field("tls", BoolType(), "Serve HTTPS with the certificate in `tlsSecret` (an Ingress; a Gateway's listener holds "
          "its own).", default=False),
    field("tlsSecret", DNS_LABEL, 'The Secret holding the TLS certificate of an Ingress; defaults to "<app>-tls".',
          optional=True),
    field("annotations", STRING_MAP, "Annotations of the Ingress or HTTPRoute.", default={}),
)
METRIC_OBJECT = record(
    "MetricObject", 'The object an "Object" scaling metric describes.',
    field("apiVersion", StringType(min_length=1), 'Its API version, e.g. "networking.k8s.io/v1".'),
    field("kind", StringType(min_length=1), 'Its kind, e.g. "Ingress".'),
    field("name", StringType(min_length=1, max_length=253), "Its name."),
)
SCALING_METRIC = record(
    "ScalingMetric", "A metric the HPA scales on (`scalingMetrics`), with its target.",
    field("type", EnumType(("Resource", "Pods", "Object", "External")), 'What is measured: "Resource" (memory or cpu '
          'of the pods), "Pods" (a metric of each pod,\naveraged), "Object" (a metric of another object, e.g. an '
          'Ingress) or "External" (from outside\nthe cluster, e.g. a queue\'s length).'),
    field("name", StringType(min_length=1, max_length=253), 'The metric: "memory" or "cpu" for "Resource", else its '
          'name in the metrics API, e.g.\n"http_requests_per_second".'),
    field("selector", STRING_MAP, 'Labels that select the metric\'s series ("Pods", "Object", "External"); none: '
          'every series.', default={}),
    field("object", METRIC_OBJECT, 'The object an "Object" metric describes.', optional=True),
    field("averageUtilization", IntType(1, 1000), 'Target: the pods\' average use, in percent of their requests '
          '("Resource").', optional=True),
    field("averageValue", QuantityType(), "Target: the average value per pod.", optional=True),
    field("value", QuantityType(), 'Target: the value itself ("Object", "External").', optional=True),
)
APP_CHART = record(
    "AppChart", "The app's chart itself; set in the app's body only, since one chart serves every cluster.",
    field("version", StringType(min_length=1, max_length=64), 'The chart\'s version (SemVer 2, without `+build`, which '
          'is not a valid OCI tag), e.g. "1.4.0";\ndefaults to `0.0.0-g<hash of the chart>`. Raise it with every '
          'change: deliveries pin it.', optional=True),
    field("test", BoolType(), "Add a `helm test` pod that connects to the app's Service, and have Flux run it after "
          "each\ninstall and upgrade.", default=False),
    field("readme", BoolType(), "Write a README.md into the chart: the app's doc comment and a table of its values.",
          default=False),
)

LOG_LEVEL = EnumType(("debug", "info", "warn", "error"))
CHECKOUT_VALUES = record(
    "lib.CheckoutValues", "Extra values of the checkout service.",
    field("logLevel", LOG_LEVEL, "How much the service logs.", default="info"),
    field("paymentProvider", EnumType(("stripe", "adyen")), "The payment provider to charge cards with.",
          default="stripe"),
    field("paymentTimeout", DurationType(Duration.parse("1s"), Duration.parse("2m")),
          "Give up on a payment after this long.", default=Duration.parse("30s")),
    field("features", MapType(StringType(), BoolType()), "Feature flags by name.", default={}),
)
SERVICE_VALUES = record(
    "lib.ServiceValues", "Values every shop service reads from its chart.",
    field("logLevel", LOG_LEVEL, "How much the service logs.", default="info"),
    field("features", MapType(StringType(), BoolType()), "Feature flags by name.", default={}),
)
OPEN_VALUES = RecordType("values", {}, None, open=True)


def app_type(values_record: RecordType | None = None) -> RecordType:
    """The App schema with an app's `values` schema in place (None: `values: any`)."""
    values_type = values_record or AnyType()
    return record(
        "App", "An application: its workload (a Deployment unless `workload` says otherwise), its Service,\n"
        "and what else it needs.",
        *workload_fields().items(),
        field("image", IMAGE, "The container image."),
        field("namespace", DNS_LABEL, "The namespace the app is installed into; defaults to the app's name.",
              optional=True),
        field("replicas", IntType(0, 1000), "How many pods run (ignored while autoscaling is on); Deployment and "
              "StatefulSet only.", default=1),
        field("ports", MapType(PORT_NAME, PORT), "Named container ports; a Service exposes them all.", default={}),
        field("env", MapType(ENV_NAME, StringType()), "Plain environment variables.", default={}),
        field("secretEnv", MapType(ENV_NAME, SecretType()),
              "Environment variables read from secrets (references only, never values).", default={}),
        field("resources", RESOURCES, "CPU and memory requests and limits.", optional=True),
        field("liveness", PROBE, "Restart the container when this check fails.", optional=True),
        field("readiness", PROBE, "Send traffic only while this check passes.", optional=True),
        field("ingress", INGRESS, "Expose the app outside the cluster.", optional=True),
        field("autoscaling", AUTOSCALING, "Scale between `min` and `max` replicas on CPU usage and `scalingMetrics`.",
              optional=True),
        field("serviceAccount", SERVICE_ACCOUNT, "The service account the pods run as; each app gets its own "
              "unless `create = false`.", optional=True),
        field("config", MapType(FILE_NAME, StringType()), "Files mounted at /etc/<app>/, by file name.", default={}),
        field("values", values_type, "The app's own values, typed by the schema named in `values: Schema { ... }`.",
              default={}),
        field("delivery", DELIVERY, "How Flux reconciles the app.", default={}),
        field("imagePolicy", IMAGE_POLICY, "Roll out new image tags automatically.", optional=True),
        field("chart", APP_CHART, "The app's chart: its version, its test and its README (set in the app's body only).",
              optional=True),
        field("calls", ListType(ResourceRefType("app")), "The apps this app calls: with `delivery.networkPolicies`, its "
              "pods may reach their ports and\ntheirs accept it (as for `delivery.dependsOn`).", optional=True),
        field("network", AnyType(), "What the derived NetworkPolicies allow beyond the app graph: workloads outside the "
              "program\nthat call the app (e.g. Prometheus), and addresses or workloads outside it the app calls.",
              optional=True),  # (Flux's: the NetworkPolicy, never the chart's values)
        field("routes", ROUTES, "HTTP routes to the app: an Ingress with several hosts and paths, or a Gateway API "
              "HTTPRoute.", optional=True),
        field("scalingMetrics", ListType(SCALING_METRIC, 1, 10), "What autoscaling scales on, beside `autoscaling.cpu` "
              "when set: memory, and metrics of the\npods, of other objects or from outside the cluster.", optional=True),
    )


@functools.cache
def workload_fields() -> dict[str, Field]:
    """The App fields of the workload, its pod and containers (issue 13), as the prelude types them:
    too many nested schemas to mirror by hand, so they are read from an analysed one-app program."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "app.gop")
        path.write_text('app x {\n  image { repository = "r", tag = "1" }\n}\n', encoding="utf-8")
        fields = analyse([path]).evaluation.fleet.apps["x"].values_type.fields
    names = list(fields)
    return {name: fields[name] for name in names[:names.index("image")]}


def workload_defaults() -> dict[str, Any]:
    """The plain values of the workload fields that have defaults, as evaluation fills them in."""
    return plain(complete(RecordType("Workload", workload_fields(), None), {}))


def complete(rec: RecordType, partial: dict[str, Any]) -> dict[str, Any]:
    """A record value with every default filled in, as evaluation produces it."""
    out: dict[str, Any] = {}
    for name, f in rec.fields.items():
        if name in partial:
            out[name] = _complete_value(f.type, partial[name])
        elif f.has_default:
            out[name] = _complete_value(f.type, f.default)
        elif not f.optional:
            raise KeyError(f"{rec.name}.{name} is required")
    out.update({k: v for k, v in partial.items() if k not in rec.fields})  # open records
    return out


def _complete_value(type_, value):
    if isinstance(type_, RecordType) and isinstance(value, dict):
        return complete(type_, value)
    if isinstance(type_, MapType) and isinstance(value, dict):
        return {key: _complete_value(type_.value, item) for key, item in value.items()}
    if isinstance(type_, ListType) and isinstance(value, (list, tuple)):
        return [_complete_value(type_.element, item) for item in value]
    return value


PART_FEATURES = {"ports": "service", "ingress": "ingress", "autoscaling": "autoscaling",
                 "serviceAccount": "serviceAccount", "config": "config", "secretEnv": "secretEnv", "values": "values",
                 "routes": "routes", "scalingMetrics": "scalingMetrics"}


def features_of(trees: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The chart parts any of these value trees (app, env, cluster layers) uses, its workload kinds included."""
    trees = list(trees)
    kinds = {WORKLOAD_PARTS[tree["workload"]] for tree in trees if "workload" in tree}
    return frozenset(feature for tree in trees for key, feature in PART_FEATURES.items() if tree.get(key)) | kinds


def make_app(name: str = "checkout", *, doc: str | None = "Takes payments and places orders.",
             values_record: RecordType | None = CHECKOUT_VALUES, also: Iterable[dict[str, Any]] = (),
             **app_layer: Any) -> AppModel:
    """An AppModel; `also` are value trees of other layers that count for the features."""
    app_layer.setdefault("image", {"repository": f"ghcr.io/acme/{name}", "tag": "1.4.2"})
    values_type = app_type(values_record)
    base = complete(values_type, app_layer)
    return AppModel(name=name, span=SPAN, doc=doc, namespace=app_layer.get("namespace", name),
                    values_type=values_type, base=base, base_origins={},
                    features=features_of([base, *also]))


def shop_checkout() -> AppModel:
    """examples/shop's checkout app, as evaluation will produce it."""
    return make_app(
        namespace="shop", replicas=3, ports={"http": 8080},
        env={"ORDERS_URL": "https://orders.shop.example.com/v1"},
        secretEnv={"DB_PASSWORD": SecretRef("sops", "checkout-db", "password", file="secrets/checkout-db.enc.yaml")},
        liveness={"path": "/healthz"}, readiness={"path": "/ready"},
        values={"paymentTimeout": Duration.parse("20s")},
        imagePolicy={"semver": ">=1.4.0 <2.0.0", "interval": Duration.parse("5m")},
        delivery={"dependsOn": ()},
    )


def shop_web() -> AppModel:
    """examples/shop's web app; the prod env adds autoscaling and TLS."""
    return make_app(
        "web", doc="The storefront web UI.", values_record=SERVICE_VALUES,
        image={"repository": "ghcr.io/acme/web", "tag": "3.1.0"}, namespace="shop", replicas=2,
        ports={"http": 3000}, env={"API_BASE": "https://api.shop.example.com"},
        ingress={"host": "shop.example.com", "className": "nginx"},
        config={"robots.txt": "User-agent: *\nDisallow: /checkout\n"},
        also=[{"ingress": {"tls": True, "tlsSecret": "web-tls"}, "autoscaling": {"min": 6, "max": 20, "cpu": 70}}])


def write_chart(app: AppModel, parent: Path) -> Path:
    """charts/<app>/ under parent, as `gopc build` writes it."""
    chart_dir = parent / app.name
    for path, text in chart_files(app).items():
        target = chart_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return chart_dir


def instance_values(app: AppModel, **overrides: Any) -> dict[str, Any]:
    """Plain chart values of one instance: the base with the given top-level fields replaced."""
    values = plain(app.base)
    values.update(plain(overrides))
    return helm_values(values)


# ---------------------------------------------------------------- running real helm on many cases

@dataclass(frozen=True)
class TemplateCase:
    """One `helm template` run: a chart directory, values (None: the chart's own), release, namespace."""

    chart_dir: Path
    values: dict[str, Any] | None = None
    release: str = "checkout"
    namespace: str = "shop"


class _QuotingDumper(yaml.SafeDumper):
    """PyYAML, writing every string double-quoted: plain `1e3` or `on` would be a number or a
    boolean to Helm's YAML 1.1 reader."""


_QuotingDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                                                               style='"'))


def values_file_text(values: dict[str, Any]) -> str:
    """A user's values file, written by PyYAML (independently of the lowering's emitter)."""
    return yaml.dump(values, Dumper=_QuotingDumper, allow_unicode=True, width=1 << 20, sort_keys=False)


def helm_template_many(cases: list[TemplateCase], workdir: Path) -> list[list[dict[str, Any]]]:
    """`helm template` for every case, several at a time; the parsed documents per case."""
    def run(index_case: tuple[int, TemplateCase]) -> list[dict[str, Any]]:
        index, case = index_case
        files = []
        if case.values is not None:
            path = workdir / f"values-{index}.yaml"
            path.write_text(values_file_text(case.values), encoding="utf-8")
            files.append(path)
        return realtools.helm_template(case.chart_dir, files, release=case.release, namespace=case.namespace)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(run, enumerate(cases)))


def helm_lint_many(chart_dirs: list[Path], values_files: Iterable[Path] = ()) -> str:
    """`helm lint --strict` over many charts, in one helm process per CPU; returns the joined
    output (ToolError on any finding)."""
    values_args: list[Any] = [arg for path in values_files for arg in ("--values", path)]
    workers = max(1, min(len(chart_dirs), os.cpu_count() or 1))
    chunks = [chart_dirs[i::workers] for i in range(workers)]

    def lint(chunk: list[Path]) -> str:
        return realtools.run_tool([realtools.helm_bin(), "lint", "--strict", *chunk, *values_args]).stdout

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return "".join(pool.map(lint, chunks))


def distinct_shapes(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per shape (keys, list lengths and scalar types; not scalar values).

    kubernetes-validate checks structure and types, and costs ~15 ms a document; documents of
    one shape pass or fail together, so validating one of each keeps the checks and the speed."""
    seen: dict[str, dict[str, Any]] = {}
    for doc in docs:
        seen.setdefault(json.dumps(_shape(doc), sort_keys=True), doc)
    return list(seen.values())


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__
