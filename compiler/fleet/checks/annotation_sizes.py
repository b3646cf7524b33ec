"""The API server's limit on the size of an object's annotations, for the annotation maps a program
writes: an app's `ingress`, `routes` and `serviceAccount` annotations (per version), and a
`namespace` declaration's (once).

Input: one `versions.Version` and a `Findings`; the fleet for `namespace_diagnostics`. Output:
ANNOTATIONS_TOO_LARGE when the keys and values of one map come to more than 256 KiB (the API server
refuses the object: "metadata.annotations: Too long: must have at most 262144 bytes"), at the line
that set the map.

Invariants: sizes are UTF-8 bytes of keys and values, as the API server counts them; only the maps
the program writes are counted (gopc adds no annotations to these objects).
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version, located
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import ANNOTATED_OBJECTS

MAX_ANNOTATIONS_BYTES = 256 * 1024


def annotations_size(annotations: dict) -> int:
    return sum(len(key.encode("utf-8")) + len(value.encode("utf-8")) for key, value in annotations.items())


def check_version(version: Version, findings: Findings) -> None:
    for field, kind in ANNOTATED_OBJECTS.items():
        settings = version.values.get(field)
        annotations = settings.get("annotations") if isinstance(settings, dict) else None
        size = annotations_size(annotations) if annotations else 0
        if size > MAX_ANNOTATIONS_BYTES:
            findings.report(version, codes.ANNOTATIONS_TOO_LARGE,
                            f"the annotations of app `{version.app}`'s {kind} (`{field}.annotations`) come to "
                            f"{size} bytes; the API server takes at most {MAX_ANNOTATIONS_BYTES}",
                            ("move large data into a ConfigMap the controller reads, or shorten the values",),
                            located(version.origins, (field, "annotations"), (field,)))


def namespace_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    for name, namespace in sorted(fleet.namespaces.items()):
        size = annotations_size(namespace.values.get("annotations") or {})
        if size > MAX_ANNOTATIONS_BYTES:
            yield diagnostic(codes.ANNOTATIONS_TOO_LARGE, namespace.span,
                             f"the annotations of namespace `{name}` come to {size} bytes; the API server takes at most "
                             f"{MAX_ANNOTATIONS_BYTES}", notes=("shorten them, or keep large data in a ConfigMap",))
