"""The whole chart of one small app, byte for byte, against tests/golden/helm/web.txtar.

GOP_UPDATE_GOLDEN=1 rewrites the expectation; review the diff before committing it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import helm_fixtures as fx
from gop.compiler.lower_helm import chart_files

GOLDEN = Path(__file__).parent / "golden" / "helm" / "web.txtar"
HEADER = ("The chart gopc writes for examples/shop's web app (tests/helm_fixtures.py: shop_web).\n"
          "Regenerate with GOP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_helm_golden.py\n")
_MARKER = re.compile(r"^-- (.+) --$", re.MULTILINE)


def to_txtar(comment: str, files: dict[str, str]) -> str:
    return comment + "".join(f"-- {path} --\n{text}" for path, text in files.items())


def from_txtar(text: str) -> tuple[str, dict[str, str]]:
    parts = _MARKER.split(text)
    files = {parts[i]: parts[i + 1].removeprefix("\n") for i in range(1, len(parts), 2)}
    return parts[0], files


def test_txtar_round_trip():
    files = {"a.txt": "one\n", "dir/b.yaml": "x: 1\n-- not a marker\n"}
    assert from_txtar(to_txtar(HEADER, files)) == (HEADER, files)


def test_web_chart_matches_golden():
    files = chart_files(fx.shop_web())
    assert all(text.endswith("\n") and not _MARKER.search(text) for text in files.values())
    actual = to_txtar(HEADER, files)
    if os.environ.get("GOP_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: run with GOP_UPDATE_GOLDEN=1"
    expected = GOLDEN.read_text(encoding="utf-8")
    _, expected_files = from_txtar(expected)
    for path in sorted(set(files) | set(expected_files)):
        assert files.get(path) == expected_files.get(path), f"{path} differs from {GOLDEN.name}"
    assert actual == expected
