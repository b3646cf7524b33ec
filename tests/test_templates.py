"""Templates, fleet defaults and narrowing, through the whole pipeline (issue 14, "Layering").

The diagnostics are goldens (tests/golden/check/templates, defaults, narrowing); here: the values
each layer gives (defaults < templates < app < env), their provenance in `gopc explain` and in the
language server's hover, the chart a narrowing reaches (values.schema.json), the base memo across
edits, and that a program written with templates builds the same tree as its hand-written twin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gop.compiler.commands.explain import explain_text
from gop.compiler.fleet.model import Layer
from gop.compiler.lower.helm import chart_files
from gop.compiler.lower.repository import repository
from gop.compiler.session import ParseCache, Session, analyse
from gop.lsp.hover import effective_values
from gop.lsp.project import Snapshot

FLEET = """\
labels {
  environment: "prod" | "dev"
}
source flux-system { url = "https://github.com/acme/fleet", branch = "main" }
env prod where environment == "prod" { }
env dev where environment == "dev" {
  all { replicas = 1 }
}
cluster prod-1 {
  labels { environment = "prod" }
}
cluster dev-1 {
  labels { environment = "dev" }
}
"""

TEMPLATES = """\
defaults for app {
  namespace = "shop"
  replicas = 2
}
template base {
  image { repository = "ghcr.io/acme/base", tag = "1.0" }
  ports { http = 8080 }
}
/// Stateless HTTP services.
template web-service uses base {
  replicas = 3
  image.repository = "ghcr.io/acme/web"
}
app web uses web-service {
  image.tag = "2.0"
}
app api uses base {
  ports.http = 9090
}
"""

HAND_WRITTEN = """\
app web {
  namespace = "shop"
  replicas = 3
  image { repository = "ghcr.io/acme/web", tag = "2.0" }
  ports { http = 8080 }
}
app api {
  namespace = "shop"
  replicas = 2
  image { repository = "ghcr.io/acme/base", tag = "1.0" }
  ports { http = 9090 }
}
"""


def _program(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def templated(tmp_path):
    analysis = analyse([str(_program(tmp_path / "templated", **{"fleet.gop": FLEET, "apps.gop": TEMPLATES}))])
    assert analysis.diagnostics == []
    return analysis


def test_each_layer_beats_the_one_below(templated):
    web, api = templated.fleet.apps["web"], templated.fleet.apps["api"]
    assert (web.base["replicas"], web.base["image"]["repository"], web.base["image"]["tag"]) == (3, "ghcr.io/acme/web", "2.0")
    assert (api.base["replicas"], api.base["ports"], web.base["ports"]) == (2, {"http": 9090}, {"http": 8080})
    assert web.namespace == api.namespace == "shop"
    origins = {path: (origin.layer, origin.source) for path, origin in web.base_origins.items()}
    assert origins[("replicas",)] == (Layer.TEMPLATE, "template web-service")
    assert origins[("image", "tag")] == (Layer.APP, "app web")
    assert origins[("ports", "http")] == (Layer.TEMPLATE, "template base")
    assert origins[("namespace",)] == (Layer.DEFAULTS, "defaults")
    dev = templated.fleet.clusters["dev-1"].instances["web"]
    assert (dev.values["replicas"], dev.origins[("replicas",)].layer) == (1, Layer.ENV)


def test_explain_names_the_template_and_defaults_lines(templated):
    text = explain_text(templated, "prod-1", "web.replicas")
    rows = [line.replace("*", " ").split() for line in text.splitlines()[1:]]
    assert text.splitlines()[0] == "web.replicas on cluster prod-1 (env prod) = 3"
    assert [(row[0], row[-2].rsplit("/", 1)[-1], row[-1]) for row in rows] == [
        ("defaults", "apps.gop:3:3", "2"), ("template", "apps.gop:11:3", "3")]
    assert [line.startswith("  *") for line in text.splitlines()[1:]] == [False, True]  # the template's is effective
    assert "template base" in explain_text(templated, "prod-1", "web.ports")


def test_hover_shows_which_template_set_a_value(templated):
    root = Path(templated.program.root)
    snapshot = Snapshot(templated, 0, {}, 0.0)
    text = effective_values(snapshot, "web", ("replicas",), root)
    assert "- env `prod`: `3` — `template web-service` (template, apps.gop:11)" in text
    assert "- env `dev`: `1` — `env dev` (env overlay, fleet.gop:7)" in text
    text = effective_values(snapshot, "api", ("namespace",), root)
    assert "- env `prod`: `\"shop\"` — `defaults` (defaults, apps.gop:2)" in text


def test_a_program_with_templates_builds_the_tree_of_its_hand_written_twin(templated, tmp_path):
    twin = analyse([str(_program(tmp_path / "twin", **{"fleet.gop": FLEET, "apps.gop": HAND_WRITTEN}))])
    assert twin.diagnostics == []
    files, problems = repository(templated)
    assert problems == [] and files == repository(twin)[0]


def test_a_narrowing_reaches_the_charts_values_schema(tmp_path):
    narrowed = TEMPLATES + "narrow App { replicas: int(1..10) }\n"
    analysis = analyse([str(_program(tmp_path, **{"fleet.gop": FLEET, "apps.gop": narrowed}))])
    assert analysis.diagnostics == []
    schema = json.loads(chart_files(analysis.fleet.apps["web"])["values.schema.json"])
    assert (schema["properties"]["replicas"]["minimum"], schema["properties"]["replicas"]["maximum"]) == (1, 10)


def test_a_template_edit_never_serves_a_stale_base(tmp_path):
    """The app bodies do not change; the session reuses their checks, and each app's base only
    while the template and defaults leaves under it are the very same."""
    root = _program(tmp_path, **{"fleet.gop": FLEET, "apps.gop": HAND_WRITTEN.replace("app web {", "app web uses t {"),
                                 "t.gop": "template t { replicas = 3 }\n"})
    session = Session(parses=ParseCache())
    first = session.analyse([str(root)])
    again = session.analyse([str(root)])
    assert again.fleet.apps["web"].base is first.fleet.apps["web"].base  # nothing changed: reused
    edited = session.analyse([str(root)], {str(root / "t.gop"): "template t { replicas = 3\n  image.pullPolicy = \"Always\" }\n"})
    assert edited.fleet.apps["web"].base["image"]["pullPolicy"] == "Always"
    defaults = session.analyse([str(root)], {str(root / "t.gop"): "template t { replicas = 3 }\ndefaults { ports.metrics = 9100 }\n"})
    assert defaults.fleet.apps["web"].base["ports"] == {"http": 8080, "metrics": 9100}
    assert defaults.fleet.apps["web"].base["image"]["tag"] == "2.0"


def test_a_map_a_template_holds_is_not_changed_by_the_apps_using_it(tmp_path):
    """`values = { a = 1 }` is one leaf holding a map, shared by every app using the template."""
    apps = TEMPLATES.replace('  ports { http = 8080 }\n', '  ports { http = 8080 }\n  values = { a = 1 }\n')
    apps = apps.replace('  image.tag = "2.0"\n', '  image.tag = "2.0"\n  values.b = 2\n')
    analysis = analyse([str(_program(tmp_path, **{"fleet.gop": FLEET, "apps.gop": apps}))])
    assert analysis.diagnostics == []
    assert (analysis.fleet.apps["web"].base["values"], analysis.fleet.apps["api"].base["values"]) == ({"a": 1, "b": 2}, {"a": 1})


def test_resource_templates_are_checked_against_each_resources_kind(tmp_path):
    resources = """\
template quota-shop for resource {
  namespace = "shop"
  spec.hard.pods = "lots"
}
defaults for resource { namespace = "ops" }
resource quota uses quota-shop {
  apiVersion = "v1"
  kind = "ResourceQuota"
}
"""
    analysis = analyse([str(_program(tmp_path, **{"fleet.gop": FLEET, "apps.gop": TEMPLATES, "resources.gop": resources}))])
    assert [(d.code, analysis.program.sources[d.span.file].position(d.span.start).line + 1) for d in analysis.diagnostics] == [
        ("E0303", 3)]
    quota = analysis.fleet.resources["quota"]
    assert (quota.base["namespace"], quota.base_origins[("namespace",)].source) == ("shop", "template quota-shop")
