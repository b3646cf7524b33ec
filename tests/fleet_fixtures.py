"""A hand-built `Fleet` mirroring examples/shop, for the Flux lowering tests.

`shop_fleet(root)` builds the model evaluation gives for examples/shop: four apps in
namespace `shop`, envs dev/staging/prod, six clusters, the `cn-ingress` selector overlay,
the prod-eu-1 override, and the settings of fleet.gop (Git source, OCI registry, delivery,
GitHub receiver, Slack provider and alert, image automation). Record types come from
helm_fixtures (mirrors of stdlib/prelude.gop). Every layer is written the way evaluation
reports it: `EnvModel.app_values` / `Instance.env_values` hold only what the env changes,
`Instance.cluster_values` what overlays and the cluster change, `Instance.values` all
layers merged, and every leaf has an `Origin` (schema default or the layer that set it).

`write_shop_root(root)` writes the SOPS-encrypted Secret the checkout app reads
(secrets/checkout-db.enc.yaml, a sops 3 file with age recipients: ciphertext only).

`overlays_fleet(root)` compiles OVERLAYS_PROGRAM, a small fleet whose selector overlays cover
what their Kustomize Components must get right: `all` and `app` blocks in one overlay (one of
them setting a field `all` sets too), an `app` block beating another overlay's `all`, a record
an overlay makes present (its defaults), map entries merged key by key, a list, an overlay
setting what the env already set, and cluster overrides of overlay values.

Variants (keyword arguments of `shop_fleet`): `delivery` replaces fields of the fleet's
`delivery` declaration (charts = "git", ociSource, serviceAccountName); `registry_url`
the registry's url;
`namespaces` moves apps to other namespaces; `app_delivery` sets an app's `delivery`
fields at the app layer; `env_delivery` sets them at the env layer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from helm_fixtures import CHECKOUT_VALUES, LOG_LEVEL, app_type, complete, features_of, field, record

from gop.compiler.fleet.model import AppModel, ClusterModel, EnvModel, Fleet, Instance, Layer, Origin, Settings
from gop.compiler.values import merge
from gop.compiler.core.span import Span
from gop.compiler.semantic.types import (
    BoolType, Duration, MapType, Quantity, RecordType, ResourceRef, SecretRef, StringType,
)

SHOP = Path(__file__).resolve().parents[1] / "examples" / "shop"
SECRET_FILE = "secrets/checkout-db.enc.yaml"

# What `sops --encrypt --age <recipient> --encrypted-regex '^(data|stringData)$'` writes for a
# Secret with stringData.password (the ciphertexts are sops' format; no plaintext is in here).
CHECKOUT_DB_SOPS = """\
apiVersion: v1
kind: Secret
metadata:
    name: checkout-db
    namespace: shop
type: Opaque
stringData:
    password: ENC[AES256_GCM,data:3kYq0n1x0w8GvA==,iv:Zr5m3Gk9bq2m0xJt2c7nQm0aTsb1VnQm2cS4w0pF8yI=,tag:W4o2n0xq1YV2s7m9cQ0kVg==,type:str]
sops:
    kms: []
    gcp_kms: []
    azure_kv: []
    hc_vault: []
    age:
        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBxV0Z6c0Q1U1pCbU1pUnN2
            b0JrYWdoVTZ4R0U2bFQ0a3hZbm5XVG1VZWpnCmZ0V2JqT2ZCNWx3Y2xZd0pnbnpk
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-01-15T10:00:00Z"
    mac: ENC[AES256_GCM,data:q0Hc3n8VbH1w9rKf4mPz0Q9x2sKk7y3nYv1o5d6u8eA=,iv:b2s9XkQm3n7V1o0pLw4r6t8y2u5i1o3p7a9s0d2f4g6=,tag:Qm9v3c7n1b5v8x2z4a6s0d==,type:str]
    pgp: []
    encrypted_regex: ^(data|stringData)$
    version: 3.9.4
"""

SERVICE_VALUES = record(
    "lib.ServiceValues", "Values every shop service reads from its chart.",
    field("logLevel", LOG_LEVEL, "How much the service logs.", default="info"),
    field("features", MapType(StringType(), BoolType()), "Feature flags by name.", default={}),
)

PROD_RESOURCES = {"requests": {"cpu": Quantity.parse("250m"), "memory": Quantity.parse("256Mi")},
                  "limits": {"cpu": Quantity.parse("1"), "memory": Quantity.parse("512Mi")}}

APPS: dict[str, dict[str, Any]] = {
    "checkout": dict(
        doc="Takes payments and places orders.", values_type=CHECKOUT_VALUES,
        layer=dict(image={"repository": "ghcr.io/acme/checkout", "tag": "1.4.2"}, namespace="shop", replicas=3,
                   ports={"http": 8080}, env={"ORDERS_URL": "https://orders.shop.example.com/v1"},
                   secretEnv={"DB_PASSWORD": SecretRef("sops", "checkout-db", "password", file=SECRET_FILE)},
                   liveness={"path": "/healthz"}, readiness={"path": "/ready"},
                   values={"paymentTimeout": Duration.parse("20s")},
                   imagePolicy={"semver": ">=1.4.0 <2.0.0"},
                   delivery={"dependsOn": (ResourceRef("app", "cart"),)})),
    "cart": dict(
        doc="Keeps shopping carts in memory.", values_type=SERVICE_VALUES,
        layer=dict(image={"repository": "ghcr.io/acme/cart", "tag": "2.0.1"}, namespace="shop", replicas=2,
                   ports={"http": 8081}, liveness={"path": "/healthz"}, values={},
                   imagePolicy={"semver": "^2.0.0"})),
    "web": dict(
        doc="The storefront web UI.", values_type=SERVICE_VALUES,
        layer=dict(image={"repository": "ghcr.io/acme/web", "tag": "3.1.0"}, namespace="shop", replicas=2,
                   ports={"http": 3000}, env={"API_BASE": "https://api.shop.example.com"},
                   ingress={"host": "shop.example.com", "className": "nginx"},
                   config={"robots.txt": "User-agent: *\nDisallow: /checkout"}, values={})),
    "recommendations": dict(
        doc="Product recommendations; only in production, and not in China.", values_type=SERVICE_VALUES,
        layer=dict(image={"repository": "ghcr.io/acme/recommendations", "tag": "0.9.3"}, namespace="shop",
                   replicas=1, ports={"http": 9000, "metrics": 9100},
                   serviceAccount={"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/recs"}},
                   values={"features": {"ml-ranking": True}})),
}

CLUSTERS: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "dev-us-1": ("dev", {"environment": "dev", "region": "us-east-1"}, ("cart", "checkout", "web")),
    "staging-eu-1": ("staging", {"environment": "staging", "region": "eu-central-1"}, ("cart", "checkout", "web")),
    "prod-us-1": ("prod", {"environment": "prod", "region": "us-east-1", "tier": "gold"},
                  ("cart", "checkout", "recommendations", "web")),
    "prod-eu-1": ("prod", {"environment": "prod", "region": "eu-central-1", "tier": "gold"},
                  ("cart", "checkout", "recommendations", "web")),
    "prod-cn-1": ("prod", {"environment": "prod", "region": "cn-north-1", "tier": "silver"}, ("cart", "checkout", "web")),
    "staging-cn-1": ("staging", {"environment": "staging", "region": "cn-north-1"}, ("cart", "checkout", "web")),
}

ENV_DOCS = {"dev": "Developers' playground: small, chatty, no TLS.",
            "staging": "Release candidates, sized like dev but logging like prod.",
            "prod": "Production: more replicas, always pull, TLS and resource limits."}


def _prod_layer() -> dict[str, Any]:
    return {"image": {"pullPolicy": "Always"}, "replicas": 6, "resources": copy.deepcopy(PROD_RESOURCES),
            "values": {"logLevel": "warn"}}


def _env_layers() -> dict[str, dict[str, dict[str, Any]]]:
    """What each env changes per app: the env's `all` block and `app` blocks, minus values
    equal to what the lower layers already give (as evaluation reports it)."""
    prod_web = _prod_layer()
    prod_web = {"image": prod_web["image"], "replicas": 6, "resources": prod_web["resources"],
                "ingress": {"tls": True, "tlsSecret": "web-tls"}, "autoscaling": {"min": 6, "max": 20, "cpu": 70},
                "values": prod_web["values"]}
    return {
        "dev": {"cart": {"values": {"logLevel": "debug"}}, "checkout": {"replicas": 2, "values": {"logLevel": "debug"}},
                "web": {"values": {"logLevel": "debug"}}},
        "staging": {"cart": {}, "checkout": {"replicas": 2}, "web": {}},
        "prod": {"cart": _prod_layer(), "checkout": _prod_layer(), "recommendations": _prod_layer(), "web": prod_web},
    }


def _cluster_layers() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(cluster, app) -> (source, what selector overlays and the cluster change)."""
    cn_web = ("overlay cn-ingress", {"ingress": {"className": "nginx-cn"}})
    return {("prod-eu-1", "checkout"): ("cluster prod-eu-1", {"replicas": 8}),
            ("prod-cn-1", "web"): cn_web, ("staging-cn-1", "web"): cn_web}


def _span(file: str) -> Span:
    return Span(f"examples/shop/{file}", 0, 0)


def _origins(tree: dict[str, Any], layer: Layer, source: str, prefix: tuple[str, ...] = ()) -> dict:
    out = {}
    for key, value in tree.items():
        path = prefix + (key,)
        out[path] = Origin(layer, None if layer is Layer.DEFAULT else _span("apps.gop"), source)
        if isinstance(value, dict):
            out.update(_origins(value, layer, source, path))
    return out


def _base_origins(name: str, values_type: RecordType, base: dict[str, Any], layer: dict[str, Any]) -> dict:
    """Every path of `base` is a default unless the app layer wrote it."""
    origins = _origins(base, Layer.DEFAULT, f"App({name})")
    origins.update(_origins(layer, Layer.APP, f"app {name}"))
    return origins


def _app(name: str, spec: dict[str, Any], layer: dict[str, Any], namespace: str, clusters: tuple[str, ...],
         other_layers: list[dict[str, Any]]) -> AppModel:
    values_type = app_type(spec["values_type"])
    layer = {**layer, "namespace": namespace}
    base = complete(values_type, layer)
    return AppModel(name=name, span=_span("apps.gop"), doc=spec["doc"], namespace=namespace, values_type=values_type,
                    base=base, base_origins=_base_origins(name, values_type, base, layer),
                    features=features_of([base, *other_layers]), clusters=clusters)


def shop_fleet(root: Path, *, delivery: dict[str, Any] | None = None, registry_url: str = "oci://ghcr.io/acme/charts",
               namespaces: dict[str, str] | None = None, app_delivery: dict[str, dict[str, Any]] | None = None,
               env_delivery: dict[tuple[str, str], dict[str, Any]] | None = None) -> Fleet:
    namespaces = namespaces or {}
    env_layers = _env_layers()
    for (env, app), fields in (env_delivery or {}).items():
        env_layers[env][app] = {**env_layers[env][app], "delivery": fields}
    cluster_layers = _cluster_layers()
    placement = {app: tuple(sorted(c for c, (_, _, apps) in CLUSTERS.items() if app in apps)) for app in APPS}
    apps = {}
    for name, spec in APPS.items():
        layer = {**spec["layer"], "delivery": {**spec["layer"].get("delivery", {}), **(app_delivery or {}).get(name, {})}}
        others = [layers[name] for layers in env_layers.values() if name in layers]
        others += [values for (_, app), (_, values) in cluster_layers.items() if app == name]
        apps[name] = _app(name, spec, layer, namespaces.get(name, "shop"), placement[name], others)
    clusters = {}
    for cluster, (env, labels, names) in sorted(CLUSTERS.items()):
        instances = {}
        for app in names:
            env_values = env_layers[env][app]
            source, cluster_values = cluster_layers.get((cluster, app), ("", {}))
            origins = dict(apps[app].base_origins)
            origins.update(_origins(env_values, Layer.ENV, f"env {env}"))
            origins.update(_origins(cluster_values, Layer.SELECTOR if source.startswith("overlay") else Layer.CLUSTER,
                                    source))
            instances[app] = Instance(app, env, merge(merge(apps[app].base, env_values), cluster_values),
                                      origins, env_values, cluster_values)
        clusters[cluster] = ClusterModel(cluster, _span("clusters.gop"), None, labels, env, instances)
    envs = {env: EnvModel(env, _span("envs.gop"), ENV_DOCS[env],
                          tuple(sorted(c for c, (e, _, _) in CLUSTERS.items() if e == env)), app_values)
            for env, app_values in env_layers.items()}
    return Fleet(package="shop", root=root, apps=dict(sorted(apps.items())), envs=envs, clusters=clusters,
                 **_settings(delivery or {}, registry_url))


def _settings(delivery: dict[str, Any], registry_url: str) -> dict[str, Any]:
    def settings(kind: str, name: str, doc: str, **values: Any) -> Settings:
        return Settings(kind, name, _span("fleet.gop"), doc, values)

    return dict(
        sources={"flux-system": settings(
            "source", "flux-system", "The Git repository Flux syncs this fleet from.",
            url="https://github.com/acme/shop-fleet", branch="main", interval=Duration.parse("1m"),
            secretName="flux-system")},
        registries={"charts": settings("registry", "charts", "Charts are pushed to this OCI registry by `gopc publish`.",
                                       url=registry_url, interval=Duration.parse("10m"), provider="generic")},
        delivery=settings("delivery", "delivery", "How charts reach the clusters, and how Flux reconciles them.",
                          **{"charts": "oci", "registry": ResourceRef("registry", "charts"),
                             "ociSource": "OCIRepository", "interval": Duration.parse("5m"),
                             "timeout": Duration.parse("3m"), "retries": 3, "prune": True, "lockdown": False, **delivery}),
        receivers={"github": settings("receiver", "github", "GitHub calls this webhook on every push, so Flux syncs at once.",
                                      type="github", events=("ping", "push"), secretName="github-webhook-token",
                                      resources=(ResourceRef("source", "flux-system"),))},
        providers={"slack": settings("provider", "slack", "Where alerts go.", type="slack", channel="shop-alerts",
                                     secretName="slack-webhook-url")},
        alerts={"shop-failures": settings("alert", "shop-failures", "Failed releases and syncs page the shop team.",
                                          provider=ResourceRef("provider", "slack"), severity="error",
                                          kinds=("Kustomization", "HelmRelease"))},
        automations={"image-updates": settings(
            "automation", "image-updates", "Commits new image tags chosen by each app's image policy back to Git.",
            interval=Duration.parse("10m"), branch="main", authorName="fluxcdbot",
            authorEmail="fluxcdbot@users.noreply.github.com")},
    )


def write_shop_root(root: Path) -> Path:
    """The program directory's files the lowering reads: the encrypted Secret."""
    path = root / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    return root


# The fleets the Flux tests lower: the example as written, and variants that exercise the other
# chart deliveries, tenant isolation, delivery settings at each layer and a second namespace.
VARIANTS: dict[str, dict[str, Any]] = {
    "shop": {},
    "shop-git-tenant": dict(
        delivery={"charts": "git", "serviceAccountName": "shop-deployer"},
        app_delivery={"checkout": {"interval": Duration.parse("2m"), "retries": 5}},
        env_delivery={("prod", "web"): {"timeout": Duration.parse("10m")}}),
    "shop-helmrepository": dict(delivery={"ociSource": "HelmRepository"}, namespaces={"cart": "carts"}),
}


OVERLAYS_PROGRAM = """\
package overlays

labels {
  region: "eu" | "cn"
  tier?: "gold" | "silver"
}

source flux-system {
  url = "https://github.com/acme/overlays"
}

delivery {
  charts = "git"
}

app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
  ports { http = 8080 }
  ingress { host = "web.example.com", className = "nginx" }
}

app api {
  image { repository = "ghcr.io/acme/api", tag = "1.0.0" }
  ports { http = 8080 }
  env { MODE = "plain" }
}

app worker {
  image { repository = "ghcr.io/acme/worker", tag = "1.0.0" }
}

env eu where region == "eu" {
  all { replicas = 2 }
}

env cn where region == "cn" {
  all { replicas = 2 }
  app worker { replicas = 5 }
}

overlay cn where region == "cn" {
  all { replicas = 5, image.pullPolicy = "Always" }
  app web { ingress.className = "nginx-cn" }
  app api { image.pullPolicy = "Never" }
}

overlay gold where tier == "gold" {
  all { autoscaling { max = 9 } }
  app api { replicas = 4, env.MODE = "gold" }
}

overlay silver where tier == "silver" {
  all { env.TIER = "silver" }
  app web { delivery.dependsOn = [api] }
}

cluster eu-1 { labels { region = "eu" } }
cluster eu-2 { labels { region = "eu", tier = "gold" } }
cluster cn-1 { labels { region = "cn" } }
cluster cn-2 {
  labels { region = "cn", tier = "gold" }
  app web { replicas = 1 }
}
cluster cn-3 {
  labels { region = "cn", tier = "silver" }
  app api { env.MODE = "cluster" }
}
"""


def overlays_fleet(root: Path) -> Fleet:
    """What evaluation gives for OVERLAYS_PROGRAM, written to root/fleet.gop."""
    from gop.compiler.session import analyse

    (root / "fleet.gop").write_text(OVERLAYS_PROGRAM, encoding="utf-8")
    analysis = analyse([root])
    assert not [d for d in analysis.diagnostics if d.is_error], analysis.diagnostics
    return analysis.fleet
