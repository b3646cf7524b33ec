"""The vocabulary of the .gop language, in one place: declaration kinds, keywords, the secret
functions and the prelude's schema names.

Every pass and the language server read these names from here, so a new declaration kind or
builtin is added once. Imports nothing: it sits below every other module.
"""

from __future__ import annotations

# Keywords that start a top-level declaration; at column 0 they start a chunk.
TOP_LEVEL_KEYWORDS = frozenset(
    "package import type schema labels let app env cluster overlay source registry "
    "receiver provider alert automation delivery".split()
)
# Keywords inside expressions, types and selectors.
EXPRESSION_KEYWORDS = frozenset({"as", "where", "and", "or", "not", "in", "exists", "all", "true", "false", "list", "map"})

# Fleet resources that have a name (`app web { ... }`), and those that occur once per fleet.
NAMED_KINDS = ("app", "env", "cluster", "overlay", "source", "registry", "receiver", "provider", "alert", "automation")
SINGLETON_KINDS = ("delivery",)
RESOURCE_KINDS = NAMED_KINDS + SINGLETON_KINDS
# Declarations of the language itself (module-scoped names).
DECLARATION_KINDS = ("type", "schema", "let")
# The layers a settings body can target, and the resources a selector can pick.
TARGET_KINDS = ("env", "overlay", "cluster")
SELECTOR_KINDS = ("app", "env", "overlay")

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
}


# ---- fleet --------------------------------------------------------------------------------------
APP_SCHEMA = "App"  # the prelude schema of an app's body
CLUSTER_LABELS = "labels"  # the block of a cluster's labels (`labels { region = "eu" }`)


class AppField:
    """Names of the prelude `App` schema's fields that the compiler reads (not an enum: plain
    `str`s, the keys of value trees)."""

    NAMESPACE = "namespace"
    IMAGE = "image"
    REPLICAS = "replicas"
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
PROBE_FIELDS = (AppField.LIVENESS, AppField.READINESS)
# Optional App fields that each add a template (a chart part of the same name) when set.
TEMPLATE_FIELDS = (AppField.INGRESS, AppField.AUTOSCALING, AppField.SERVICE_ACCOUNT)
# Map-valued App fields that add a chart part of the same name when not empty.
MAP_PART_FIELDS = (AppField.CONFIG, AppField.SECRET_ENV, AppField.VALUES)
