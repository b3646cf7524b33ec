"""E1175: annotation maps over the API server's 262144 bytes (keys and values, UTF-8), for the
maps a program writes: an app's ingress, routes and service account annotations, on every layer,
and a namespace's. Exactly the limit passes; one byte more does not; multi-byte characters count
as their bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.annotation_sizes import MAX_ANNOTATIONS_BYTES
from gop.compiler.session import analyse

KEY = "acme.io/blob"
FLEET = """\
labels { environment: string }
source flux-system { url = "https://github.com/acme/fleet" }
env prod where environment == "prod" {}
cluster prod-1 {
  labels { environment = "prod" }
}
"""


def _codes(tmp_path: Path, text: str) -> list[tuple[str, int]]:
    (tmp_path / "main.gop").write_text(text, encoding="utf-8")
    return [(d.code, text.count("\n", 0, d.span.start) + 1) for d in analyse([tmp_path]).diagnostics]


def _app(field: str, value: str) -> str:
    bodies = {"ingress": 'ingress {\n    host = "web.example.com"\n', "serviceAccount": "serviceAccount {\n",
              "routes": 'routes {\n    hosts = ["web.example.com"]\n    paths = [{ path = "/" }]\n'}
    return ('app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n  ports { http = 8080 }\n  '
            + bodies[field] + f'    annotations {{ "{KEY}" = "{value}" }}\n  }}\n}}\n')


@pytest.mark.parametrize("field", ["ingress", "routes", "serviceAccount"])
def test_an_app_map_over_the_limit_is_refused_at_its_line(tmp_path, field):
    at_limit = "x" * (MAX_ANNOTATIONS_BYTES - len(KEY))
    assert _codes(tmp_path, FLEET + _app(field, at_limit)) == []
    text = FLEET + _app(field, at_limit + "x")
    line = text.splitlines().index(next(l for l in text.splitlines() if "annotations" in l)) + 1
    assert _codes(tmp_path, text) == [(codes.ANNOTATIONS_TOO_LARGE, line)]


def test_bytes_not_characters(tmp_path):
    value = "é" * ((MAX_ANNOTATIONS_BYTES - len(KEY)) // 2 + 1)  # two bytes each: one byte over
    assert [code for code, _ in _codes(tmp_path, FLEET + _app("ingress", value))] == [codes.ANNOTATIONS_TOO_LARGE]


def test_a_layer_that_makes_the_map_too_large(tmp_path):
    big = "x" * MAX_ANNOTATIONS_BYTES
    text = FLEET.replace('env prod where environment == "prod" {}',
                         f'env prod where environment == "prod" {{\n  app web {{ ingress.annotations {{ "acme.io/more" = "{big}" }} }}\n}}') \
        + _app("ingress", "small")
    assert _codes(tmp_path, text) == [(codes.ANNOTATIONS_TOO_LARGE, 4)]


def test_a_namespace_map_over_the_limit(tmp_path):
    text = FLEET + f'namespace shop {{\n  annotations {{ "{KEY}" = "{"x" * MAX_ANNOTATIONS_BYTES}" }}\n}}\n'
    assert _codes(tmp_path, text) == [(codes.ANNOTATIONS_TOO_LARGE, 7)]
