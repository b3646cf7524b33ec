"""The registry of diagnostic codes: one Markdown page per code in diagnostics/pages/.

Each page starts with `# CODE: title` and a `severity: error|warning|info|hint`
line, then explains the problem with an example and the fix. The pages are the
single source of truth: `gopc explain CODE` prints one, `severity_of` reads the
severity, and a test checks that every code the compiler emits has a page.
"""

from __future__ import annotations

import functools
import enum
import re
from dataclasses import dataclass

# Every code, by what it means; each has its page in diagnostics/pages/ (tests/test_codes.py).
UNEXPECTED_CHARACTER = "E0100"
UNEXPECTED_TOKEN = "E0101"
MISSING_VALUE = "E0102"
UNCLOSED_BRACKET = "E0103"
UNTERMINATED_STRING = "E0104"
INVALID_ESCAPE = "E0105"
INVALID_INTERPOLATION = "E0106"
INVALID_LITERAL = "E0107"
UNKNOWN_NAME = "E0201"
DUPLICATE_DECLARATION = "E0202"
MODULE_NOT_FOUND = "E0203"
IMPORT_CYCLE = "E0204"
PACKAGE_NAME_DIFFERS = "E0205"
MISPLACED_STATEMENT = "E0206"
INVALID_RESOURCE_NAME = "E0207"
TYPE_MISMATCH = "E0301"
OUT_OF_RANGE = "E0302"
REFINEMENT_NOT_MET = "E0303"
UNKNOWN_FIELD = "E0304"
MISSING_FIELD = "E0305"
INVALID_TYPE = "E0307"
VALUE_NOT_ALLOWED = "E0308"
CIRCULAR_DEFINITION = "E0311"
INGRESS_PORT_AMBIGUOUS = "E0320"
APP_NAME_TOO_LONG = "E0321"
NESTED_TOO_DEEPLY = "E0330"
NUMBER_OUT_OF_RANGE = "E0331"
VALUE_TOO_LARGE = "E0332"
UNKNOWN_LABEL = "E0401"
INVALID_LABEL_VALUE = "E0402"
MISSING_LABEL = "E0403"
CLUSTER_IN_SEVERAL_ENVS = "E0404"
CLUSTER_IN_NO_ENV = "E0405"
ENV_WITHOUT_SELECTOR = "E0409"
CONFLICTING_ASSIGNMENTS = "E0501"
DEPENDENCY_NOT_ON_CLUSTER = "E0502"
DEPENDENCY_CYCLE = "E0503"
PORT_NOT_DECLARED = "E0504"
NO_GIT_SOURCE = "E0505"
AMBIGUOUS_GIT_SOURCE = "E0506"
UNPARSABLE_SEMVER_RANGE = "E0507"
INGRESS_HOST_NOT_DNS = "E0508"
INVALID_KUBERNETES_LABEL_VALUE = "E0509"
REQUEST_ABOVE_LIMIT = "E0510"
AUTOSCALING_MIN_ABOVE_MAX = "E0511"
DUPLICATE_PORT_NUMBER = "E0512"
SYSTEM_NAMESPACE_UNDER_TENANT = "E0513"
PLAINTEXT_SECRET = "E0601"
URL_WITH_PASSWORD = "E0604"
SECRET_WHERE_NAME_EXPECTED = "E0605"
CANNOT_LOWER = "E0701"
CANNOT_WRITE_OUTPUT = "E0702"
KEY_TOO_LONG = "E0703"
AUTOMATED_TAG_UNDONE = "E0704"
CHART_CHANGED_VERSION_KEPT = "E0705"
SOPS_FILE_OUTSIDE_PROGRAM = "E0710"
SOPS_FILE_NOT_REGULAR = "E0711"
# resources (issue 12): Kubernetes objects typed by their kind
UNKNOWN_KIND = "E0820"
NAMESPACE_REQUIRED = "E0821"
NAMESPACE_NOT_ALLOWED = "E0822"
RESOURCE_FILE_UNREADABLE = "E0823"
OBJECT_NOT_VALID = "E0824"
RESOURCE_KIND_MISSING = "E0825"
DUPLICATE_OBJECT = "E0826"
# Delivery stages (issue 12).
STAGE_CYCLE = "E0840"
NO_STAGE = "E0841"
DEPENDENCY_IN_LATER_STAGE = "E0842"
HEALTH_CHECKS_IGNORED = "E0843"
RESERVED_STAGE_NAME = "E0844"
# releases (issue 12)
RELEASE_CHART_SOURCE = "E0850"
RELEASE_CHART_PATH = "E0851"
RELEASE_NAME_INVALID = "E0852"
RELEASE_DUPLICATE = "E0853"
RELEASE_VERSION_RANGE = "E0854"
RELEASE_CHART_NOT_VENDORED = "E0855"
# networking, release settings and image policies (issue 13)
IMAGE_POLICY_ORDER = "E1140"
INVALID_TAG_PATTERN = "E1141"
UNKNOWN_CAPTURE_GROUP = "E1142"
CHART_SETTING_LAYERED = "E1143"
RETRY_INTERVAL_WITHOUT_RETRY = "E1144"
TEST_WITHOUT_PORT = "E1145"
NETWORK_POLICY_NAMESPACE_LAYERED = "E1146"
CALLEE_WITHOUT_PORT = "E1147"
ROUTE_WITHOUT_GATEWAY = "E1148"
ROUTES_BESIDE_INGRESS = "E1149"
SCALING_METRIC_INVALID = "E1150"
CANNOT_READ_FILE = "E0901"
INTERNAL_ERROR = "E0902"
BAD_COMMAND_ARGUMENT = "E0903"
TOOL_FAILED = "E0904"
CANNOT_READ_DIFF_SIDE = "E0905"
CANNOT_SERVE = "E0906"
# templates, fleet defaults and narrowed schemas (issue 14)
TEMPLATE_KIND_MISMATCH = "E1000"
TEMPLATE_CYCLE = "E1001"
TEMPLATE_CONFLICT = "E1002"
NARROWING_WIDENS = "E1003"
NARROWING_WITH_DEFAULT = "E1004"
NARROWED_TWICE = "E1005"
NARROWING_NOT_A_SCHEMA = "E1006"
OPTIONAL_FIELD_WITH_DEFAULT = "W0306"
SELECTOR_MATCHES_NOTHING = "W0406"
APP_DEPLOYED_NOWHERE = "W0407"
CLUSTER_RUNS_NO_APP = "W0408"
MEMORY_WITHOUT_UNIT = "W0514"
HUNDRED_CPU_CORES = "W0515"
LOOKS_LIKE_SECRET = "W0603"
# Vendored charts (`gopc chart add`, charts.lock, typed release values).
CHART_NOT_LOCKED = "E0801"
VENDORED_CHART_CHANGED = "E0802"
CHART_LOCK_INVALID = "E0803"
CHART_PULL_FAILED = "E0804"
CHART_LOCK_CONFLICT = "E0805"
CHART_PACKAGE_INVALID = "E0806"
UNKNOWN_CHART_VALUE = "W0807"
# Comprehensions (`for`) and context interpolation (`${app.name}`, `${cluster.labels.KEY}`, `??`).
DUPLICATE_GENERATED_NAME = "E1020"
INVALID_ITERABLE = "E1021"
ROW_LACKS_FIELD = "E1022"
GENERATED_NAME_NOT_TEXT = "E1023"
INVALID_LOOP_VARIABLE = "E1024"
UNKNOWN_CONTEXT_VALUE = "E1025"
LABEL_MAY_BE_ABSENT = "E1026"
FALLBACK_OUTSIDE_CONTEXT = "E1027"
# Tenancy (docs/tenancy.md): isolation of tenants, checked before Git.
TENANT_FOREIGN_NAMESPACE = "E1200"
TENANT_SYSTEM_NAMESPACE = "E1201"
TENANT_CLUSTER_SCOPED = "E1202"
TENANT_CROSS_NAMESPACE_REF = "E1203"
TENANT_SHARED_NAMESPACE = "E1204"
TENANT_SHARED_UNIT = "E1205"
TENANT_ACCOUNT_CLASH = "E1206"
TENANT_WITH_FLEET_ACCOUNT = "E1207"
LOCKDOWN_REFUSES = "E1208"
TENANT_UNKNOWN_ENV = "E1209"
TENANT_NOT_ON_CLUSTER = "E1210"
# Tests written in .gop (`test "name" { }`, `gopc test`; issue 16).
TEST_NAME = "E1300"
TEST_UNKNOWN_APP = "E1301"
TEST_UNKNOWN_FIELD = "E1302"
TEST_NOT_COMPARABLE = "E1303"
TEST_MISPLACED_QUANTIFIER = "E1304"
TEST_FAILED = "E1310"
TEST_MATCHES_NO_CLUSTER = "W1305"

# Workloads (issue 13): the workload kind, its pod and containers (fleet/checks/workloads.py).
FIELD_NOT_FOR_KIND = "E1100"
CRON_JOB_WITHOUT_SCHEDULE = "E1101"
CRON_SCHEDULE_INVALID = "E1102"
CRON_TIME_ZONE_UNKNOWN = "E1103"
VOLUME_SOURCE_COUNT = "E1104"
VOLUME_NAME_TAKEN = "E1105"
MOUNT_NAMES_NO_VOLUME = "E1106"
MOUNT_PATH_TAKEN = "E1107"
CONTAINER_NAME_TAKEN = "E1108"
DISRUPTION_BUDGET_NEVER_MET = "E1109"
DISRUPTION_BUDGET_BOTH = "E1110"
# Workloads, the API server's rules of session 7 (rules13; fleet/checks/workloads.py).
WORKLOAD_NAME_TOO_LONG = "E1111"
ESCALATION_WITH_SYS_ADMIN = "E1112"
TOLERATION_INVALID = "E1113"
ACCESS_MODES_INVALID = "E1114"
NON_ROOT_RUNS_AS_ROOT = "E1115"
# An app's security settings against its namespace's Pod Security level (fleet/checks/pod_security.py).
POD_SECURITY_REFUSED = "E1170"
# `replicas` written for an app whose HorizontalPodAutoscaler sets them (fleet/checks/effective.py).
REPLICAS_UNDER_AUTOSCALING = "W1171"
# An app's `network` allows beyond the app graph (fleet/checks/network.py).
NETWORK_DESTINATION_INVALID = "E1172"
NETWORK_ALLOW_UNUSED = "W1173"
NETWORK_SETTING_LAYERED = "E1174"
# An annotation map over the API server's 256 KiB (fleet/checks/annotations.py).
ANNOTATIONS_TOO_LARGE = "E1175"  # `calls` or `network` above the app body

# Pods (issue 13, features13): node affinity and lifecycle hooks (fleet/checks/pods.py).
NODE_SELECTOR_VALUES = "E1120"
LIFECYCLE_HOOK_HANDLERS = "E1121"
SLEEP_OVER_GRACE_PERIOD = "E1122"

# Sharp edges of issue 13 (fleet/checks/names.py, file_mounts.py, route_paths.py).
DERIVED_NAME_INVALID = "E1130"
CONFIG_MOUNT_TAKEN = "E1132"
ROUTE_PATH_INVALID = "E1133"

# Sharp edges of issue 13, session 8 (fleet/checks/workload_edges.py): accepted, but never works.
UTILIZATION_WITHOUT_REQUEST = "W1160"
SCHEDULE_NEVER_FIRES = "W1161"
DISRUPTION_BUDGET_BLOCKS_EVICTION = "W1162"


class Severity(enum.IntEnum):
    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


_HEADER = re.compile(r"^# (?P<code>[EW]\d{4}): (?P<title>.+)\nseverity: (?P<severity>\w+)\n")


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    title: str
    severity: Severity
    doc: str


@functools.cache
def registry() -> dict[str, CodeInfo]:
    import importlib.resources  # here: it loads tempfile, shutil, zipfile ..., which only reading the pages needs

    codes: dict[str, CodeInfo] = {}
    for entry in importlib.resources.files("gop.compiler.diagnostics").joinpath("pages").iterdir():
        if not entry.name.endswith(".md"):
            continue
        text = entry.read_text(encoding="utf-8")
        match = _HEADER.match(text)
        if match is None:
            raise ValueError(f"code page {entry.name} lacks the '# CODE: title' / 'severity:' header")
        code = match["code"]
        codes[code] = CodeInfo(code, match["title"], Severity[match["severity"].upper()], text)
    return dict(sorted(codes.items()))


def severity_of(code: str) -> Severity:
    return registry()[code].severity


def lookup(code: str) -> CodeInfo | None:
    return registry().get(code.upper())
