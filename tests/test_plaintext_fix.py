"""The quick fix of W0603 moves a plaintext `env` variable to `secretEnv`: applied to the
source, the program checks without the warning and reads the variable from a Secret."""

from __future__ import annotations

import pytest

from gop.compiler.session import analyse
from gop.compiler.semantic.types import SecretRef

HEAD = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }\n'
CASES = {
    "a block of several lines": (
        '  env {\n    LOG = "info"\n    DB_PASSWORD = "hunter2"\n    MODE = "fast"\n  }\n}\n',
        '  env {\n    LOG = "info"\n    MODE = "fast"\n  }\n'
        '  secretEnv.DB_PASSWORD = secretRef(secret = "web", key = "db-password")\n}\n'),
    "a block on one line": (
        '  env { LOG = "info", DB_PASSWORD = "hunter2" }\n}\n',
        '  env { LOG = "info" }\n  secretEnv.DB_PASSWORD = secretRef(secret = "web", key = "db-password")\n}\n'),
    "the only variable": (
        '  env { DB_PASSWORD = "hunter2" }\n}\n',
        '  secretEnv { DB_PASSWORD = secretRef(secret = "web", key = "db-password") }\n}\n'),
    "a dotted assignment": (
        '  env.DB_PASSWORD = "hunter2"\n}\n',
        '  secretEnv.DB_PASSWORD = secretRef(secret = "web", key = "db-password")\n}\n'),
}


def _analysed(tmp_path, text):
    (tmp_path / "a.gop").write_text(text, encoding="utf-8")
    return analyse([tmp_path / "a.gop"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fix_moves_the_variable_to_secret_env(tmp_path, case):
    body, fixed_body = CASES[case]
    analysis = _analysed(tmp_path, HEAD + body)
    [warning] = analysis.diagnostics
    assert warning.code == "W0603"
    [fix] = warning.fixes
    text = HEAD + body
    fixed = text[:fix.span.start] + fix.replacement + text[fix.span.end:]
    assert fixed == HEAD + fixed_body
    again = _analysed(tmp_path, fixed)
    assert again.diagnostics == []
    values = again.fleet.apps["web"].base
    assert values["secretEnv"] == {"DB_PASSWORD": SecretRef("secret", "web", "db-password")}
    assert "DB_PASSWORD" not in values["env"]


def test_a_comment_silences_a_false_positive(tmp_path):
    text = HEAD + '  env { DEMO_PASSWORD = "demo-only" }  // gopc:not-secret\n}\n'
    assert _analysed(tmp_path, text).diagnostics == []
    assert [d.code for d in _analysed(tmp_path, text.replace("gopc:not-secret", "demo")).diagnostics] == ["W0603"]
