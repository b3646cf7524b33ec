"""The whole chart of one small app, byte for byte, against tests/golden/helm/web.txtar
(one `-- path --` section per file of charts/web/).

GOP_UPDATE_GOLDEN=1 rewrites the expectation; review the diff before committing it."""

from __future__ import annotations

from pathlib import Path

import helm_fixtures as fx
import txtar
from gop.compiler.lower.helm import chart_files

GOLDEN = Path(__file__).parent / "golden" / "helm" / "web.txtar"
COMMENT = ("The chart gopc writes for examples/shop's web app (tests/helm_fixtures.py: shop_web).\n"
           "Regenerate with GOP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_helm_golden.py\n")


def test_web_chart_matches_golden():
    files = chart_files(fx.shop_web())
    assert all(text.endswith("\n") for text in files.values())  # so the archive holds them unchanged
    if txtar.update_requested():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(txtar.format(txtar.Archive(COMMENT, list(files.items()))), encoding="utf-8")
    expected = txtar.read(GOLDEN)
    txtar.check_sections(expected, files.__contains__, f"the files of the chart: {', '.join(files)}")
    assert expected.names() == list(files), "files missing from the golden chart (GOP_UPDATE_GOLDEN=1 adds them)"
    for path, text in files.items():
        txtar.expect_section(GOLDEN, expected, path, text)
    assert GOLDEN.read_text(encoding="utf-8") == txtar.format(txtar.Archive(COMMENT, list(files.items())))
