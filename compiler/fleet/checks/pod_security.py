"""Pod Security admission: an app's security settings against the level its namespace enforces.

Input: the fleet's `namespace` declarations and each distinct version of an app (`versions`).
Output: POD_SECURITY_REFUSED findings, at the line that set the refused value, with the namespace
declaration beside it. A namespace's `pod-security.kubernetes.io/enforce` label makes the API
server refuse every pod that breaks its level ("baseline" or "restricted"): the Deployment is
accepted, its pods never are, and Flux waits for a release that never becomes ready.

Invariants: only the settings the prelude has are judged (the app's `security` block applies to
every container of the pod; gopc writes no host namespaces, host paths or privileged
containers); values from the defaults alone pass "restricted" and are never reported.
"""

from __future__ import annotations

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version
from gop.compiler.fleet.model import Fleet, Layer, Origin, Settings
from gop.compiler.language import WorkloadField

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# The capabilities the "baseline" level lets a container add (Kubernetes' Pod Security Standards);
# "restricted" allows NET_BIND_SERVICE alone. Runtimes take names with or without `CAP_`.
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def enforced_levels(fleet: Fleet) -> dict[str, tuple[str, Settings]]:
    """Namespace -> (the level it enforces, its declaration), for namespaces that enforce one."""
    levels = {}
    for name, namespace in sorted(fleet.namespaces.items()):
        level = (namespace.values.get("labels") or {}).get(ENFORCE_LABEL)
        if level in ("baseline", "restricted"):
            levels[name] = (level, namespace)
    return levels


def check_version(fleet: Fleet, version: Version, findings: Findings, levels: dict[str, tuple[str, Settings]]) -> None:
    if not levels or not version.clusters:
        return
    namespace = version.values.get("namespace") or fleet.apps[version.app].namespace
    if namespace not in levels:
        return
    level, declaration = levels[namespace]
    placed = [cluster for cluster in version.clusters if cluster in declaration.clusters]
    if not placed:
        return
    # A namespace placed on some clusters only: the findings name those clusters, as a layer's do.
    partial = len(declaration.clusters) < len(fleet.clusters)
    beside = Origin(Layer.CLUSTER if partial else Layer.DEFAULT, declaration.span, f"namespace {namespace}")
    version = Version(version.app, version.values, version.origins, placed)
    for field, refused in _refused(version.values.get(WorkloadField.SECURITY) or {}, level):
        findings.report(version, codes.POD_SECURITY_REFUSED,
                        f"app `{version.app}`: {refused}, which the Pod Security level \"{level}\" of namespace "
                        f"`{namespace}` refuses",
                        (f"the namespace's `{ENFORCE_LABEL}` label makes the API server refuse the app's pods; "
                         "change the setting, or run the app in a namespace of a lower level",),
                        version.origins.get((WorkloadField.SECURITY, field)), beside,
                        other_note=f"namespace `{namespace}` enforces \"{level}\"")


def _refused(security: dict, level: str) -> list[tuple[str, str]]:
    """(the `security` field, what it does) for each setting `level` refuses."""
    refused = []
    allowed = RESTRICTED_CAPABILITIES if level == "restricted" else BASELINE_CAPABILITIES
    added = [name for name in security.get("addCapabilities") or () if name.removeprefix("CAP_") not in allowed]
    if added:
        refused.append(("addCapabilities", f"it adds the capabilit{'ies' if len(added) > 1 else 'y'} "
                                           f"{', '.join(added)}"))
    if security.get("seccompProfile") == "Unconfined":
        refused.append(("seccompProfile", "its seccomp profile is Unconfined"))
    if level == "restricted":
        if security.get("runAsNonRoot") is False:
            refused.append(("runAsNonRoot", "it may run as root (runAsNonRoot false)"))
        if security.get("runAsUser") == 0 and security.get("runAsNonRoot") is False:  # else E1115 says it
            refused.append(("runAsUser", "it runs as user 0 (root)"))
        if security.get("allowPrivilegeEscalation") is True:
            refused.append(("allowPrivilegeEscalation", "it allows privilege escalation"))
        if security.get("dropAllCapabilities") is False:
            refused.append(("dropAllCapabilities", "it keeps the runtime's default capabilities (dropAllCapabilities false)"))
    return refused
