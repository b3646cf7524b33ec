"""An app's Helm chart as files: the entry point of the Helm lowering.

Input: an `AppModel`.
Output: {path relative to charts/<app>/: text}: Chart.yaml, values.yaml, values.schema.json,
.helmignore and templates/ (see templates.py for which templates).

Invariants:
- Deterministic: the same model gives the same bytes (no clock, no paths, no dict-order luck).
- Version policy: the app's `chart.version` when its body sets one; else `0.0.0-g<h>` where <h> is the first 12 hex digits of the SHA-256 of every
  other byte of the chart (all files, Chart.yaml without its version). Equal charts have equal
  versions, any change gives a new one; the version has no `+`, so it is a valid OCI tag, and
  it is a valid SemVer 2 pre-release (the `g` keeps the identifier from being a number with a
  leading zero). Versions are not ordered in time: deliveries pin the exact version.
- appVersion is the base image tag; the description is the app's doc comment.
- README.md (the "readme" part) is written from the same values.schema.json and values.yaml data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from gop.compiler.fleet.model import AppModel
from gop.compiler.emit.yaml import Quoting, dump_yaml
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.language import APP_CHART
from gop.compiler.lower.helm.parts import chart_parts, helm_values
from gop.compiler.lower.helm.readme import readme
from gop.compiler.values import plain
from gop.compiler.lower.helm.schema import chart_schema_text
from gop.compiler.lower.helm.templates import templates
from gop.compiler.lower.helm.values_file import values_yaml

VERSION_PREFIX = "0.0.0-g"
KUBE_VERSION = ">=1.23.0-0"  # autoscaling/v2 and networking.k8s.io/v1 Ingress are served from 1.23

HELMIGNORE = """\
# Files helm package leaves out of the chart archive.
.DS_Store
.git/
.gitignore
*.swp
*.bak
*.tmp
*.orig
*~
.idea/
.vscode/
"""


def chart_files(app: AppModel, caches: HelmCaches | None = None) -> dict[str, str]:
    """Every file of charts/<app>/, by path relative to it, in path order. `caches`: the program's
    (see `chart_version`), which then know the chart's version too."""
    caches = caches or HelmCaches()
    chart_yaml = _chart_yaml_parts(app)
    files = _files_without_version(app, chart_yaml, caches)
    chosen = chosen_chart_version(app)
    version = chosen or _version(files, caches.utf8)
    caches.remember_chart_version(app, version)
    if chosen:  # the build notes a chosen version with its content digest (`lower.repository.chart_notes`)
        caches.remember_content_digest(app, _content_digest(app, files))
    files["Chart.yaml"] = _chart_yaml(chart_yaml, version)
    return dict(sorted(files.items()))


def chart_version(app: AppModel, caches: HelmCaches | None = None) -> str:
    """The chart's version (see the module doc); the HelmRelease and OCI tag use exactly this.

    Every HelmRelease and render of the app asks: pass the program's `caches` to work it out once."""
    caches = caches or HelmCaches()
    version = caches.chart_version(app)
    if version is None:
        version = chosen_chart_version(app) or _version(_files_without_version(app, _chart_yaml_parts(app), caches),
                                                        caches.utf8)
        caches.remember_chart_version(app, version)
    return version


def chart_content_digest(app: AppModel, caches: HelmCaches | None = None) -> str:
    """A digest of what the chart installs: its templates, its values and its values.schema.json
    without descriptions; not Chart.yaml (appVersion and description only describe the chart),
    README.md, values.yaml's comments, nor the image tag when the HelmRelease sets it (an app with an
    `imagePolicy`). Two builds of the app whose charts have the same digest install the same objects."""
    caches = caches or HelmCaches()
    digest = caches.content_digest(app)
    if digest is None:
        digest = _content_digest(app, _files_without_version(app, _chart_yaml_parts(app), caches))
        caches.remember_content_digest(app, digest)
    return digest


def _content_digest(app: AppModel, files: dict[str, str]) -> str:
    """See `chart_content_digest`: the templates, the values (not values.yaml's comments) and the
    schema without its descriptions."""
    installed = {path: text for path, text in files.items() if path.startswith("templates/")}
    values = helm_values(plain(app.base))
    if "imagePolicy" in app.base:  # the HelmRelease sets the tag (image automation's marked line), not the chart
        values["image"] = {key: item for key, item in values["image"].items() if key != "tag"}
    installed["values"] = json.dumps(values, sort_keys=True, default=str)
    installed["values.schema.json"] = json.dumps(_without_descriptions(json.loads(files["values.schema.json"])),
                                                 sort_keys=True)
    return _version(installed)


_SCHEMA_MAPS = ("properties", "definitions")  # keywords whose value maps names (which may be "description") to schemas


def _without_descriptions(schema):
    """A JSON Schema without its `description` keywords (text for readers; validation never reads it)."""
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: ({name: _without_descriptions(sub) for name, sub in value.items()} if key in _SCHEMA_MAPS
                  else _without_descriptions(value))
            for key, value in schema.items() if key != "description"}


def _files_without_version(app: AppModel, chart_yaml: tuple[str, str], caches: HelmCaches) -> dict[str, str]:
    files = {
        "Chart.yaml": _chart_yaml(chart_yaml, None),
        ".helmignore": HELMIGNORE,
        "values.yaml": values_yaml(app),
        "values.schema.json": chart_schema_text(app, caches),
    }
    parts = chart_parts(app)
    files.update(templates(parts))
    if "readme" in parts:
        files["README.md"] = readme(app, json.loads(files["values.schema.json"]), helm_values(plain(app.base)))
    return files


def chosen_chart_version(app: AppModel) -> str | None:
    """The version the app's body gives its chart (`chart.version`), if any."""
    return (app.base.get(APP_CHART) or {}).get("version")


def _version(files: dict[str, str], utf8: Callable[[str], bytes] = str.encode) -> str:
    """`utf8`: each text's UTF-8 bytes (`HelmCaches.utf8` has the schema's already)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        for data in (path.encode(), utf8(files[path])):
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
    return VERSION_PREFIX + digest.hexdigest()[:12]


def _chart_yaml_parts(app: AppModel) -> tuple[str, str]:
    """Chart.yaml before and after its `version` line (top-level entries are lines of their own,
    so the file is written once and hashed without the version)."""
    head = {"apiVersion": "v2", "name": app.name, "description": app.doc or f"The {app.name} app.",
            "type": "application"}
    tail = {"appVersion": str(app.base["image"]["tag"]), "kubeVersion": KUBE_VERSION}
    return ("# Generated by gopc from the program's app declaration.\n" + _words_yaml(head),
            _words_yaml(tail))


def _words_yaml(value: dict[str, str]) -> str:
    return dump_yaml([value], quoting=Quoting.WORDS)


def _chart_yaml(parts: tuple[str, str], version: str | None) -> str:
    head, tail = parts
    return head + (_words_yaml({"version": version}) if version is not None else "") + tail
