"""The hand-built RecordTypes of helm_fixtures.py mirror the schemas in the .gop sources."""

from __future__ import annotations

import pytest

import helm_fixtures as fx
from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import parse


def _schemas(repo_root, relative: str) -> dict[str, ast.SchemaDecl]:
    path = repo_root / relative
    result = parse(str(path), path.read_text())
    assert not result.diagnostics, result.diagnostics
    return {decl.name.text: decl for decl in result.file.decls if isinstance(decl, ast.SchemaDecl)}


MIRRORS = [
    ("stdlib/prelude.gop", "App", fx.app_type(None)),
    ("stdlib/prelude.gop", "Image", fx.IMAGE),
    ("stdlib/prelude.gop", "ResourceAmounts", fx.RESOURCE_AMOUNTS),
    ("stdlib/prelude.gop", "Resources", fx.RESOURCES),
    ("stdlib/prelude.gop", "Probe", fx.PROBE),
    ("stdlib/prelude.gop", "Ingress", fx.INGRESS),
    ("stdlib/prelude.gop", "Autoscaling", fx.AUTOSCALING),
    ("stdlib/prelude.gop", "ServiceAccount", fx.SERVICE_ACCOUNT),
    ("stdlib/prelude.gop", "Delivery", fx.DELIVERY),
    ("stdlib/prelude.gop", "ImagePolicy", fx.IMAGE_POLICY),
    ("stdlib/prelude.gop", "Routes", fx.ROUTES),
    ("stdlib/prelude.gop", "RoutePath", fx.ROUTE_PATH),
    ("stdlib/prelude.gop", "GatewayRef", fx.GATEWAY_REF),
    ("stdlib/prelude.gop", "AppChart", fx.APP_CHART),
    ("stdlib/prelude.gop", "ScalingMetric", fx.SCALING_METRIC),
    ("stdlib/prelude.gop", "MetricObject", fx.METRIC_OBJECT),
    ("examples/shop/lib/types.gop", "CheckoutValues", fx.CHECKOUT_VALUES),
    ("examples/shop/lib/types.gop", "ServiceValues", fx.SERVICE_VALUES),
]


@pytest.mark.parametrize("source, name, mirror", MIRRORS, ids=[m[1] for m in MIRRORS])
def test_fixture_record_mirrors_gop_schema(repo_root, source, name, mirror):
    decl = _schemas(repo_root, source)[name]
    assert decl.doc == mirror.doc
    written = [(f.name.text, f.optional, f.default is not None, f.doc) for f in decl.fields]
    mirrored = [(f.name, f.optional, f.has_default, f.doc) for f in mirror.fields.values()]
    assert mirrored == written
