"""What the language server reuses between analyses never shows: after each edit of a sequence,
its diagnostics equal a fresh `gopc check --format json` of the same texts.

The server analyses again after each edit through its session's memos (parses, app bodies and
bases, plaintext findings), publishes only what changed, and may publish an analysis that a
`didOpen` overtook when it saw the opened text already. The sequence below breaks and repairs an
app, renames an app, changes an overlay's selector, a template, a cluster's label, a let and a
`dependsOn` edge, and sends two edits back to back (the first one's analysis is overtaken by the second): each step is compared, over
every file of the workspace, with the real CLI run on the buffers written to disk (the server
hears of no file change, so it keeps analysing its buffers).
"""

from __future__ import annotations

import pytest

from test_lsp import Session, comparable_check, comparable_lsp, wait_until

TEMPLATE = """package shop

/// Probes every service answers.
template probed for app {
  liveness { path = "/healthz" }
  readiness { path = "/ready" }
}
"""

STEPS = [  # (file, old text, new text): applied in order, each compared with `gopc check`
    ("apps.gop", "  replicas = 3\n", '  replicas = "three"\n'),  # break
    ("apps.gop", '  replicas = "three"\n', "  replicas = 3\n"),  # repair (the earlier analysis's trees again)
    ("apps.gop", "app cart uses", "app basket uses"),  # rename an app: `dependsOn = [cart]` and `app cart` in envs break
    ("apps.gop", "app basket uses", "app cart uses"),
    ("envs.gop", 'overlay cn-ingress where region == "cn-north-1"', 'overlay cn-ingress where region == "eu-west-1"'),
    ("envs.gop", 'overlay cn-ingress where region == "eu-west-1"', 'overlay cn-ingress where region == "mars-1"'),
    ("templates.gop", '  readiness { path = "/ready" }\n', '  readiness { path = "/ready" }\n  replicas = "many"\n'),
    ("templates.gop", '  replicas = "many"\n', "  replicas = 4\n  imagePolicyy { semver = \"^1\" }\n"),
    ("templates.gop", '  imagePolicyy { semver = "^1" }\n', ""),
    ("apps.gop", '  imagePolicy { semver = "^2.0.0" }\n}', '  imagePolicy { semver = "^2.0.0" }\n'),  # a syntax error
    ("apps.gop", '  imagePolicy { semver = "^2.0.0" }\n', '  imagePolicy { semver = "^2.0.0" }\n}'),
    # What unchanged apps' reused instances and fleet-check findings depend on (`EvaluationMemo`):
    ("clusters.gop", 'environment = "prod", region = "cn-north-1"', 'environment = "prod", region = "eu-central-1"'),  # a label
    ("clusters.gop", 'environment = "prod", region = "eu-central-1", tier = "silver"',
     'environment = "prod", region = "cn-north-1", tier = "silver"'),
    ("fleet.gop", 'let domain = "shop.example.com"', "let domain = 42"),  # a let two apps read
    ("fleet.gop", "let domain = 42", 'let domain = "shop.example.org"'),
    ("apps.gop", "dependsOn = [cart]", "dependsOn = [web]"),  # a dependsOn edge
]
# Sent back to back, the second while the analysis of the first runs: that analysis is overtaken
# (it did not see the second edit), so only the one after it may be published for the new versions.
BURST = [("apps.gop", "  replicas = 3\n", '  replicas = "three"\n'), ("envs.gop", "app web {", "app webb {")]


@pytest.mark.asyncio
async def test_diagnostics_after_each_edit_equal_a_fresh_check(shop):
    (shop / "templates.gop").write_text(TEMPLATE, encoding="utf-8")
    apps_path = shop / "apps.gop"
    apps_path.write_text(apps_path.read_text(encoding="utf-8").replace("app cart {", "app cart uses probed {"), encoding="utf-8")
    session = await Session.start(shop, {"debounceMs": 50})
    try:
        uris = {name: session.open(name) for name in ("apps.gop", "envs.gop", "templates.gop", "clusters.gop", "fleet.gop")}
        await session.diagnostics(uris["apps.gop"], what="the first analysis")
        codes = [await _matches_a_fresh_check(session, shop, "opening the workspace")]
        for number, (name, old, new) in enumerate(STEPS, 1):
            session.replace(uris[name], old, new)
            await session.diagnostics(uris[name], what=f"step {number}")
            codes.append(await _matches_a_fresh_check(session, shop, f"step {number} ({name}: {old.strip()!r} -> {new.strip()!r})"))
        for name, old, new in BURST:
            session.replace(uris[name], old, new)
        for name, _, _ in BURST:
            await session.diagnostics(uris[name], what="the edits sent back to back")
        codes.append(await _matches_a_fresh_check(session, shop, "the edits sent back to back"))
    finally:
        await session.stop()
    # The sequence is worth running: the steps report what they meant to, and the repairs clear it.
    assert codes[0] == codes[2] == codes[4] == set()
    assert "E0301" in codes[1] and "E0201" in codes[3] and "E0301" in codes[7] and "E0304" in codes[8]
    assert any(code.startswith("E01") for code in codes[10]) and codes[11] == codes[9]
    assert "E0301" in codes[14] - codes[13] and codes[15] == codes[16] == codes[13]
    assert {"E0301", "E0201"} <= codes[17]


async def _matches_a_fresh_check(session: Session, root, step: str) -> set[str]:
    """The published diagnostics of every file equal `gopc check` of the buffers written to disk;
    returns their error codes."""
    session.write_all()
    expected = comparable_check(root)
    try:
        await wait_until(lambda: comparable_lsp(session.client.published, session.texts) == expected, timeout=10, what=step)
    except AssertionError:
        published = comparable_lsp(session.client.published, session.texts)
        raise AssertionError(f"after {step}: only the server: {sorted(published - expected)}; "
                             f"only gopc check: {sorted(expected - published)}") from None
    return {item[1] for item in expected if item[2] == "error"}
