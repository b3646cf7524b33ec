"""The vocabulary of the .gop language, in one place: declaration kinds, keywords, the secret
functions and the prelude's schema names.

Every pass and the language server read these names from here, so a new declaration kind or
builtin is added once. Imports nothing: it sits below every other module.
"""

from __future__ import annotations

# Keywords that start a top-level declaration; at column 0 they start a chunk.
TOP_LEVEL_KEYWORDS = frozenset(
    "package import type schema labels let app env cluster overlay source registry "
    "receiver provider alert automation delivery release resource stage namespace "
    "template defaults narrow for tenant test".split()
)
# Keywords inside expressions, types and selectors.
EXPRESSION_KEYWORDS = frozenset({"as", "where", "and", "or", "not", "in", "exists", "all", "true", "false", "list", "map"})

# Fleet resources that have a name (`app web { ... }`), and those that occur once per fleet.
NAMED_KINDS = ("app", "env", "cluster", "overlay", "source", "registry", "receiver", "provider", "alert", "automation",
               "release", "resource", "stage", "namespace", "tenant")
SINGLETON_KINDS = ("delivery",)
RESOURCE_KINDS = NAMED_KINDS + SINGLETON_KINDS
# Declarations of the language itself (module-scoped names).
DECLARATION_KINDS = ("type", "schema", "let")
# The layers a settings body can target, and the resources a selector can pick.
TARGET_KINDS = ("env", "overlay", "cluster")
SELECTOR_KINDS = ("app", "env", "overlay", "release", "resource", "namespace", "tenant")
# Declarations whose fields layer like an app's (env, overlay and cluster bodies target them by name).
UNIT_KINDS = ("app", "release", "resource")


# The names a context interpolation starts with: `${app.name}`, `${env.name}`, `${cluster.labels.region}`.
CONTEXT_ROOTS = ("app", "env", "cluster")


def unit_key(kind: str, name: str) -> str:
    """The key of an app, release or resource in per-declaration tables (the evaluation's leaves
    and chains, the symbol table's records): an app's bare name ("web"), else "release podinfo",
    "resource quota" — kind and name, as `gopc explain` and hover name it (names hold no spaces)."""
    return name if kind == "app" else f"{kind} {name}"

PRELUDE_MODULE = "std/prelude"
STD_PREFIX = "std/"

# The secret functions and their required parameters, in order (only the first may go unnamed).
SECRET_PARAMETERS = {"sops": ("file", "secret", "key"), "secretRef": ("secret", "key"),
                     "external": ("store", "remote", "secret", "key")}
SECRET_FUNCTIONS = tuple(SECRET_PARAMETERS)

# The prelude schema that types each settings resource's body.
SETTINGS_SCHEMAS = {
    "source": "GitSource", "registry": "ChartRegistry", "delivery": "FleetDelivery", "receiver": "WebhookReceiver",
    "provider": "AlertProvider", "alert": "Alert", "automation": "ImageAutomation",
    "stage": "Stage", "namespace": "Namespace", "tenant": "Tenant",
}
# The prelude schema that types each layered declaration's body (apps, releases, resources).
UNIT_SCHEMAS = {"app": "App", "release": "Release", "resource": "Resource"}


# ---- fleet --------------------------------------------------------------------------------------
APP_SCHEMA = "App"  # the prelude schema of an app's body
CLUSTER_LABELS = "labels"  # the block of a cluster's labels (`labels { region = "eu" }`)


class AppField:
    """Names of the prelude `App` schema's fields that the compiler reads (not an enum: plain
    `str`s, the keys of value trees)."""

    NAMESPACE = "namespace"
    PORTS = "ports"
    PORT = "port"  # of a probe and of `ingress`: the name of a declared port
    LIVENESS = "liveness"
    READINESS = "readiness"
    INGRESS = "ingress"
    HOST = "host"  # of `ingress`
    AUTOSCALING = "autoscaling"
    SERVICE_ACCOUNT = "serviceAccount"
    RESOURCES = "resources"
    CONFIG = "config"
    SECRET_ENV = "secretEnv"
    VALUES = "values"
    DELIVERY = "delivery"
    DEPENDS_ON = "dependsOn"  # of `delivery`
    IMAGE_POLICY = "imagePolicy"
    SEMVER = "semver"  # of `imagePolicy`


# The probes of an app, each naming the port it checks.
PROBE_FIELDS = (AppField.LIVENESS, AppField.READINESS, "startup")
# Optional App fields that each add a template (a chart part of the same name) when set.
TEMPLATE_FIELDS = (AppField.INGRESS, AppField.AUTOSCALING, AppField.SERVICE_ACCOUNT, "routes", "scalingMetrics")  # issue 13
# Map-valued App fields that add a chart part of the same name when not empty.
MAP_PART_FIELDS = (AppField.CONFIG, AppField.SECRET_ENV, AppField.VALUES)

# ---- symbols (the symbol table and the language server read these) ----------------------------

# What each secret function and each of its parameters (required ones first, as SECRET_PARAMETERS,
# then `external`'s optional ones) means.
SECRET_DOCS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "sops": ("A secret in a SOPS-encrypted Secret manifest in the repository.", (
        ("file", "Path of the encrypted manifest, relative to the program root."),
        ("secret", "Name of the Kubernetes Secret the workload reads."),
        ("key", "The key inside that Secret."),
    )),
    "secretRef": ("A Secret that already exists in the cluster.", (
        ("secret", "Name of the Kubernetes Secret."),
        ("key", "The key inside that Secret."),
    )),
    "external": ("A secret kept in an external store, synced into a Secret.", (
        ("store", "The name of the external secret store."),
        ("remote", "The key in the store."),
        ("secret", "Name of the Kubernetes Secret the workload reads."),
        ("key", "The key inside that Secret."),
        ("storeKind", 'Optional: "ClusterSecretStore" (the default) or "SecretStore".'),
        ("property", "Optional: the field of the remote value to read."),
    )),
}
# What each built-in type means.
BUILTIN_DOCS = {
    "int": "A whole number; refine with a range: `int(1..10)`.",
    "float": "A number with a fraction; refine with a range: `float(0..1)`.",
    "bool": "`true` or `false`.",
    "string": 'Text; refine with `string(len: 1..63, pattern: "^[a-z]+$")`.',
    "duration": "A duration such as `30s`, `5m` or `1h30m`.",
    "quantity": "A Kubernetes quantity such as `250m`, `1` or `512Mi`.",
    "secret": "A reference to a secret: `sops(...)`, `secretRef(...)` or `external(...)`; never a plaintext value.",
    "any": "Any value; not checked.",
    "app": "The name of a declared app.",
    "source": "The name of a declared source.",
    "registry": "The name of a declared registry.",
    "provider": "The name of a declared provider.",
    "release": "The name of a declared release.",
    "stage": "The name of a declared stage.",
    "namespace": "The name of a declared namespace.",
    "resource": "The name of a declared resource.",
}
# Type constructors written with brackets: `list[string]`, `map[string, int]`.
TYPE_CONSTRUCTORS = ("list", "map")
# Keywords inside a target's body (env, overlay, cluster) and inside a selector after a label key.
TARGET_KEYWORDS = ("app", "all", "release", "resource")
SELECTOR_OPERATORS = ("in", "not", "exists")


# ---- comprehensions and context interpolation ----
# Every name a context interpolation may start with: the roots, and the own name of a release or
# resource (`${release.name}`); none of them may name a loop variable.
CONTEXT_NAMES = CONTEXT_ROOTS + ("release", "resource")
# ---- tenancy (docs/tenancy.md) ------------------------------------------------------------------
# `tenant NAME where SELECTOR { ... }`: a named declaration placed on clusters by a selector, its body
# typed by the prelude's `Tenant`.
# (`tenant` is one of NAMED_KINDS, SELECTOR_KINDS and SETTINGS_SCHEMAS above.)
TENANT_KIND = "tenant"

# ---- tests (`gopc test`, issue 16) ----------------------------------------------------------------
TEST_KEYWORD = "test"  # starts a top-level `test "name" { ... }` declaration (one of TOP_LEVEL_KEYWORDS)
# Keywords inside a test body (contextual: ordinary names elsewhere).
TEST_KEYWORDS = ("expect", "every", "no", "cluster", "object", "where")

# ---- workloads (issue 13) -----------------------------------------------------------------------


class WorkloadField:
    """Names of the prelude `App` fields of the workload, its pod and containers (issue 13)."""

    WORKLOAD = "workload"
    REPLICAS = "replicas"
    STATEFUL_SET = "statefulSet"
    JOB = "job"
    CRON_JOB = "cronJob"
    SCHEDULE = "schedule"  # of `cronJob`
    TIME_ZONE = "timeZone"  # of `cronJob`
    VOLUME_CLAIM_TEMPLATES = "volumeClaimTemplates"  # of `statefulSet`
    VOLUMES = "volumes"
    MOUNTS = "mounts"  # of the app and of each init container and sidecar
    VOLUME = "volume"  # of a mount
    INIT_CONTAINERS = "initContainers"
    SIDECARS = "sidecars"
    SECURITY = "security"
    TMP_VOLUME = "tmpVolume"  # of `security`
    DISRUPTION_BUDGET = "disruptionBudget"


DEFAULT_WORKLOAD = "Deployment"
# The chart part (and template) of each workload kind.
WORKLOAD_PARTS = {"Deployment": "deployment", "StatefulSet": "statefulSet", "DaemonSet": "daemonSet",
                  "CronJob": "cronJob", "Job": "job"}
# The kinds each kind-specific App field applies to; a line setting it for another kind is an error.
KIND_FIELDS = {
    WorkloadField.REPLICAS: ("Deployment", "StatefulSet"),
    AppField.AUTOSCALING: ("Deployment", "StatefulSet"),
    WorkloadField.DISRUPTION_BUDGET: ("Deployment", "StatefulSet"),
    WorkloadField.STATEFUL_SET: ("StatefulSet",),
    WorkloadField.JOB: ("Job", "CronJob"),
    WorkloadField.CRON_JOB: ("CronJob",),
    # Kinds with a Service route traffic; the HPA scales what has replicas (issue 13, edges13b).
    AppField.INGRESS: ("Deployment", "StatefulSet", "DaemonSet"),
    "routes": ("Deployment", "StatefulSet", "DaemonSet"),
    "scalingMetrics": ("Deployment", "StatefulSet"),
}
# The volume and mount names gopc gives its own volumes (the app's files, its values, /tmp).
RESERVED_VOLUMES = ("config", "values", "tmp")

# ---- fleetkit (issue 14): what editors need of templates and comprehensions ----
# Keywords of declaration headers that are neither top-level nor expression keywords: `app web uses base { }`.
HEADER_KEYWORDS = frozenset({"uses"})

# ---- networking and release settings (issue 13) -------------------------------------------------
# The fields of `imagePolicy` that order the tags; exactly one is set.
IMAGE_POLICY_ORDERS = ("semver", "alphabetical", "numerical")
TAG_FILTER = "filterTags"  # of `imagePolicy`: `pattern` and `extract`
APP_CHART = "chart"  # the App field of the chart's own settings (`version`, `test`, `readme`)
RELEASE_NAME = "releaseName"  # of `delivery`
CALLS = "calls"  # the App field of the apps an app calls
NETWORK_POLICIES = "networkPolicies"  # of the `delivery` block
ROUTES = "routes"  # the App field of HTTP routes: an Ingress of several hosts and paths, or an HTTPRoute
SCALING_METRICS = "scalingMetrics"  # the App field of the HPA's metrics beyond CPU
# The App fields whose `annotations` are one object's, and that object: the plaintext-secret pass
# looks into them, the annotation-size check counts them.
ANNOTATED_OBJECTS = {AppField.INGRESS: "Ingress", ROUTES: "Ingress or HTTPRoute", AppField.SERVICE_ACCOUNT: "ServiceAccount"}

# ---- workload rules (issue 13, session 7) ---------------------------------------------------------
# The longest name of a CronJob (the API server's limit: its Jobs are named `<name>-<minutes since
# epoch>`) and of a StatefulSet (its pods' `controller-revision-hash` label is `<name>-<hash>`): 11
# more characters must stay a 63-character label value.
MAX_CONTROLLER_NAME = 52
TOLERATIONS = "tolerations"  # the App field of the taints the pods tolerate


def chart_fullname(chart: str, release_name: str) -> str:
    """The name of the objects of a chart gopc writes (`gop.fullname`): the release name, with the
    chart's name appended unless it already contains it, cut to 63 characters without a final `-`."""
    name = (release_name if chart in release_name else f"{release_name}-{chart}")[:63]
    return name[:-1] if name.endswith("-") else name


# Sharp edges of issue 13 (edges13).
CONFIG_MOUNT_PATH = "/etc/%s"  # where a chart mounts its app's `config` files (%s: the app), read-only

# External peers of the derived NetworkPolicies (issue 13, session 8).
NETWORK_ALLOW = "network"  # the App field of traffic allowed beyond the app graph

# ---- HPA metrics and workload numbers (issue 13, edges13b) ----
# The CPU utilisation target, in percent, of an HPA that sets no metric (the API's own default).
DEFAULT_CPU_UTILIZATION = 80


def cpu_utilization(autoscaling: dict, scaling_metrics) -> int | None:
    """The CPU utilisation target of an app's HPA: `autoscaling.cpu` when set, else the default
    when `scalingMetrics` sets no metric; None: CPU is no metric of it."""
    if "cpu" in autoscaling:
        return autoscaling["cpu"]
    return None if scaling_metrics else DEFAULT_CPU_UTILIZATION
