"""Mounts of an app's main container against the path its chart mounts the app's `config` at.

Input: the fleet (the app's features: its chart mounts `config` wherever any layer gives the app
files), one `versions.Version` and a `Findings`. Output: CONFIG_MOUNT_TAKEN at the mount's line for
a mount of the main container at the config path (`/etc/<app>`, templates.py `_FILE_MOUNTS`): the
API server refuses two mounts at one path. A mount under it is fine: the kubelet creates the mount
points of nested mounts inside a configMap volume before the container starts
(`MakeNestedMountpoints`). Sidecars and init containers do not get the config mount, so their
mounts are free.
"""

from __future__ import annotations

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version, located
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import CONFIG_MOUNT_PATH, AppField, WorkloadField


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    if AppField.CONFIG not in fleet.apps[version.app].features:
        return
    config = CONFIG_MOUNT_PATH % version.app
    for path, mount in sorted((version.values.get(WorkloadField.MOUNTS) or {}).items()):
        if (path.rstrip("/") or "/") != config:
            continue
        findings.report(version, codes.CONFIG_MOUNT_TAKEN,
                        f"the mount at {path} of app `{version.app}` is the path the chart mounts the app's `config` "
                        "files at; the API server refuses two mounts at one path",
                        (f"mount the volume elsewhere, e.g. at {config}-{mount[WorkloadField.VOLUME]} or under "
                         f"{config}/, and point the app there",),
                        located(version.origins, (WorkloadField.MOUNTS, path, WorkloadField.VOLUME)))
