"""A release's values typed by its vendored chart, in the editor and offline.

- The chart's descriptions reach hover and completion: a key of a release's `values` shows its
  type and the schema's description (or, for a chart without a schema, the values.yaml comment
  above the key); completion inside `values { }` offers the chart's keys with their docs; a
  chart's key cannot be renamed (no .gop declares it).
- `gopc check` of a program with vendored charts needs neither helm nor the network.
(The diagnostics themselves: tests/golden/check/release_*.txtar.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt
from chart_fixtures import make_chart, vendor_chart
from gop.compiler.semantic.symbols import RenameRefused
from gop.lsp import hover
from test_symbols import Shop

REPOSITORY = "https://charts.example.com"
SCHEMA = {
    "type": "object",
    "properties": {
        "replicaCount": {"type": "integer", "minimum": 1, "description": "How many pods run the app."},
        "image": {"type": "object", "properties": {"tag": {"type": "string", "description": "The image tag."}}},
    },
}
PROGRAM = f'''source flux-system {{ url = "https://github.com/acme/fleet" }}

release typed {{
  chart {{ repository = "{REPOSITORY}", name = "typed", version = "1.x" }}
  values {{
    replicaCount = 2
    image.tag = "1.25"
  }}
}}

release plain {{
  chart {{ repository = "{REPOSITORY}", name = "plain" }}
  values {{ replicaCount = 3 }}
}}

env prod where environment == "prod" {{
  release typed {{ values.replicaCount = 4 }}
}}

cluster p1 {{ labels {{ environment = "prod" }} }}
'''


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("release-values")
    sources = tmp_path_factory.mktemp("chart-sources")
    vendor_chart(root, REPOSITORY, make_chart(sources, "typed", "1.0.0", schema=SCHEMA))
    vendor_chart(root, REPOSITORY, make_chart(sources, "plain", "0.1.0"))
    (root / "main.gop").write_text(PROGRAM)
    return root


@pytest.fixture(scope="module")
def fleet(program) -> Shop:
    return Shop(program)


def test_the_program_checks_clean(fleet):
    assert [d.message for d in fleet.snapshot.analysis.diagnostics] == []


@pytest.mark.parametrize("needle, expected", [
    ("replicaCount = 2", ["replicaCount?: int(1..)", "How many pods run the app.", "field of `typed 1.0.0 values`"]),
    ("tag = ", ["tag?: string", "The image tag.", "field of `typed 1.0.0 values.image`"]),
    ("replicaCount = 4", ["replicaCount?: int(1..)", "How many pods run the app."]),
    ("replicaCount = 3", ["replicaCount?: int", "This will set the replicaset count", "field of `plain 0.1.0 values`"]),
])
def test_hover_shows_the_chart_s_description(fleet, needle, expected):
    occurrence = fleet.at("main.gop", needle)
    text = hover.hover_markdown(fleet.snapshot, occurrence, fleet.root)
    assert text is not None and all(part in text for part in expected), text


def test_completion_offers_the_chart_s_keys_with_their_docs(fleet):
    text = fleet.text("main.gop").replace("    replicaCount = 2\n", "    \n", 1)
    offset = text.index("values {\n    \n") + len("values {\n    ")
    items = fleet.completions("main.gop", text, offset)
    assert {"replicaCount", "image"} <= set(items)
    assert items["replicaCount"].doc == "How many pods run the app."


def test_a_chart_s_key_is_not_renamed(fleet):
    with pytest.raises(RenameRefused, match="no .gop schema declares"):
        fleet.table.renamable(fleet.key("main.gop"), fleet.tree("main.gop"), fleet.offset("main.gop", "replicaCount = 2"))


def test_check_needs_neither_helm_nor_the_network(program, tmp_path):
    env = {**rt.tool_env(), "PATH": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "GOPC_HELM": str(tmp_path / "no-helm")}
    done = subprocess.run([str(Path(sys.executable).with_name("gopc")), "check", str(program)], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
