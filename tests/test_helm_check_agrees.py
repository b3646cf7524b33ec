"""Check and the chart agree (one source per constraint): every string `gopc check` accepts in any
string field of an app passes the chart's own values.schema.json and renders with real helm,
literally (never as template code).

Table-driven: hostile strings (template code, YAML specials, control characters, unicode, lone
surrogates, empty, whitespace, very long) and near misses of a valid value of each field (a trailing
newline, padding, upper case, digits from other scripts, one character too many) go into every
string field, map keys included. Each (field, string) is one app of one program per field; an app
check accepts is checked against the JSON Schema with `jsonschema`, and the accepted strings of
every field are rendered by `helm template` (all of them where the field is constrained, a spread
where it takes any text) and compared with helm_template.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.session import analyse
from gop.compiler.lower.helm import helm_template
from gop.compiler.lower.helm.schema import chart_schema
from gop.compiler.lower.helm.parts import helm_values
from gop.compiler.values import plain
from gop.compiler.semantic.types import StringType, compile_pattern, go_unsupported
from test_helm_strings import HOSTILE

IMAGE = 'image { repository = "ghcr.io/acme/web", tag = "1.0" }'
HTTP = "ports { http = 8080 }"
SECRET = 'secretRef(secret = "db", key = "password")'

# field -> (the app's body, with {v} where the string goes; a valid value of the field)
FIELDS: dict[str, tuple[str, str]] = {
    "image.repository": ('image { repository = {v}, tag = "1.0" }', "ghcr.io/acme/web"),
    "image.tag": ('image { repository = "ghcr.io/acme/web", tag = {v} }', "1.4.2"),
    "ports.<key>": (IMAGE + "\n  ports { {v} = 8080 }", "http"),
    "env.<key>": (IMAGE + "\n  env { {v} = \"x\" }", "LOG_LEVEL"),
    "env.<value>": (IMAGE + "\n  env { A = {v} }", "debug"),
    "secretEnv.<key>": (IMAGE + "\n  secretEnv { {v} = " + SECRET + " }", "DB_PASSWORD"),
    "secretRef.secret": (IMAGE + '\n  secretEnv { A = secretRef(secret = {v}, key = "k") }', "db-credentials"),
    "secretRef.key": (IMAGE + '\n  secretEnv { A = secretRef(secret = "db", key = {v}) }', "password.txt"),
    "external.secret": (IMAGE + '\n  secretEnv { A = external(store = "vault", remote = "shop/db", secret = {v}, '
                        'key = "k") }', "db"),
    "external.key": (IMAGE + '\n  secretEnv { A = external(store = "vault", remote = "shop/db", secret = "db", '
                     'key = {v}) }', "password"),
    "liveness.path": (IMAGE + "\n  " + HTTP + "\n  liveness { path = {v} }", "/healthz"),
    "readiness.port": (IMAGE + "\n  " + HTTP + "\n  readiness { port = {v} }", "http"),
    "ingress.host": (IMAGE + "\n  " + HTTP + "\n  ingress { host = {v} }", "shop.example.com"),
    "ingress.path": (IMAGE + "\n  " + HTTP + '\n  ingress { host = "a.b", path = {v} }', "/api"),
    "ingress.port": (IMAGE + "\n  " + HTTP + '\n  ingress { host = "a.b", port = {v} }', "http"),
    "ingress.className": (IMAGE + "\n  " + HTTP + '\n  ingress { host = "a.b", className = {v} }', "nginx"),
    "ingress.tlsSecret": (IMAGE + "\n  " + HTTP + '\n  ingress { host = "a.b", tls = true, tlsSecret = {v} }',
                          "shop-tls"),
    "ingress.annotations.<key>": (IMAGE + "\n  " + HTTP + '\n  ingress { host = "a.b", annotations { {v} = "x" } }',
                                  "nginx.ingress.kubernetes.io/rewrite-target"),
    "serviceAccount.name": (IMAGE + "\n  serviceAccount { name = {v} }", "runner"),
    "serviceAccount.annotations.<value>": (IMAGE + "\n  serviceAccount { annotations { k = {v} } }", "arn:x"),
    "config.<key>": (IMAGE + "\n  config { {v} = \"x\" }", "app.conf"),
    "config.<value>": (IMAGE + "\n  config { \"a.conf\" = {v} }", "a = 1\n"),
    "values.<key>": (IMAGE + "\n  values { {v} = 1 }", "logLevel"),
    "values.<value>": (IMAGE + "\n  values { k = {v} }", "warn"),
}


def near_misses(valid: str) -> list[str]:
    """A valid value, and the ways a value close to it can go wrong."""
    return [valid, valid + "\n", valid + "\r\n", "\n" + valid, valid + " ", " " + valid, valid + "\t", valid.upper(),
            valid + "\u0661", valid + "\uff10", valid + "é", valid + "\x00", valid + "-", "-" + valid, valid + ".",
            valid * 20, (valid * 300)[:253], (valid * 300)[:254], (valid * 300)[:63], (valid * 300)[:64],
            (valid * 300)[:15], (valid * 300)[:16], valid + "\ud800", valid + "{{ .Release.Name }}", valid + "/",
            valid.replace(".", ".."), valid + "\u2028"]


def gop_literal(text: str) -> str:
    """`text` as a gop string literal: printable ASCII as is, everything else as \\u{...}."""
    escaped = {'"': '\\"', "\\": "\\\\", "$": "\\$"}
    return '"' + "".join(escaped.get(c, c) if " " <= c <= "~" else f"\\u{{{ord(c):x}}}" for c in text) + '"'


def accepted_apps(field: str, strings: list[str], workdir: Path) -> dict[str, tuple[str, object]]:
    """Analyse one program with an app per string; the apps check accepts, by name, with their string."""
    body, _ = FIELDS[field]
    names = [f"t{i}" for i in range(len(strings))]
    program = "".join(f"app {name} {{\n  " + body.replace("{v}", gop_literal(text)) + "\n}\n"
                      for name, text in zip(names, strings))
    path = workdir / f"{field.replace('<', '').replace('>', '')}.gop"
    path.write_text(program, encoding="utf-8")
    analysis = analyse([path])
    rejected = {decl_name for d in analysis.diagnostics if d.is_error
                for decl_name, decl in analysis.resolution.resources["app"].items() if decl.span.contains(d.span)}
    unplaced = [d for d in analysis.diagnostics if d.is_error and d.span.file == str(path)
                and not any(decl.span.contains(d.span) for decl in analysis.resolution.resources["app"].values())]
    assert not unplaced, [d.message for d in unplaced]
    return {name: (text, analysis.fleet.apps[name]) for name, text in zip(names, strings) if name not in rejected}


def candidates(field: str) -> list[str]:
    return list(dict.fromkeys(near_misses(FIELDS[field][1]) + HOSTILE))


@pytest.fixture(scope="module")
def accepted(tmp_path_factory) -> dict[str, dict[str, tuple[str, object]]]:
    workdir = tmp_path_factory.mktemp("agree")
    return {field: accepted_apps(field, candidates(field), workdir) for field in FIELDS}


def test_the_table_is_hostile_enough(accepted):
    assert sum(len(candidates(field)) for field in FIELDS) >= 1290
    for field in FIELDS:  # each field accepts its valid value, and some fields reject most strings
        assert FIELDS[field][1] in {text for text, _ in accepted[field].values()}, field
    assert len(accepted["secretRef.secret"]) < len(candidates("secretRef.secret")) / 4


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_what_check_accepts_the_chart_schema_accepts(field, accepted):
    disagreements = []
    for name, (text, app) in accepted[field].items():
        errors = list(jsonschema.Draft7Validator(chart_schema(app)).iter_errors(helm_values(plain(app.base))))
        if errors:
            disagreements.append((text, [error.message[:200] for error in errors]))
    assert not disagreements, f"check accepts, the chart schema rejects: {disagreements}"


CONSTRAINED = {"image.repository", "image.tag", "ports.<key>", "env.<key>", "secretEnv.<key>", "secretRef.secret",
               "secretRef.key", "external.secret", "external.key", "liveness.path", "readiness.port", "ingress.host",
               "ingress.path", "ingress.port", "ingress.tlsSecret", "serviceAccount.name", "config.<key>"}
SPREAD = 5  # plain strings per field that go through helm (test_helm_strings renders the hostile ones)
PLAIN = re.compile(r"[-./_A-Za-z0-9]*")


def helm_sample(field: str, apps: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Every string of a constrained field that is not plain (where a constraint could let through
    what the chart refuses), and a spread of the others."""
    plain_apps = [(text, app) for text, app in apps if PLAIN.fullmatch(text)]
    odd = [(text, app) for text, app in apps if field in CONSTRAINED and not PLAIN.fullmatch(text)]
    return odd + plain_apps[::max(1, len(plain_apps) // SPREAD)][:SPREAD]


def test_what_check_accepts_helm_renders_literally(accepted, tmp_path):
    cases = [(field, text, app) for field in sorted(FIELDS)
             for text, app in helm_sample(field, list(accepted[field].values()))]
    charts = tmp_path / "charts"
    chart_dirs = [fx.write_chart(app, charts / str(index)) for index, (_, _, app) in enumerate(cases)]

    def template(index: int):
        try:
            return realtools.helm_template(chart_dirs[index], release=cases[index][2].name, namespace="ns")
        except realtools.ToolError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        rendered = list(pool.map(template, range(len(cases))))
    refused = [(field, text, str(docs.stderr)[:300]) for (field, text, _), docs in zip(cases, rendered)
               if isinstance(docs, realtools.ToolError)]
    assert not refused, f"check accepts, helm refuses: {refused}"
    for (field, text, app), helm_docs in zip(cases, rendered):
        assert helm_template(app, plain(app.base), release_name=app.name, namespace="ns") == helm_docs, (field, text)


PATTERNS = {"digits": r"^\d+$", "word": r"^\w+$", "name": r"^[a-z]+$", "space": r"^a\sb$"}
# (field, text): Python's default `re` finds a match, Go's RE2 (Helm's schema validation) does not
PYTHON_ONLY_MATCHES = [("digits", "\u0661\u0662"), ("word", "caf\u00e9"), ("name", "abc\n"), ("space", "a\u00a0b")]


@pytest.mark.parametrize("field, text", PYTHON_ONLY_MATCHES)
def test_patterns_match_as_helm_matches_them(field, text, tmp_path):
    """A pattern in a program is applied as Helm applies the chart schema's copy: helm refuses
    these strings, and so does check (compile_pattern), though Python's `re` would take them."""
    assert re.search(PATTERNS[field], text) and not compile_pattern(PATTERNS[field]).search(text)
    values = fx.record("Codes", "", *(fx.field(name, StringType(pattern), "", optional=True)
                                      for name, pattern in PATTERNS.items()))
    app = fx.make_app("codes", values_record=values, values={"digits": "12", "word": "a_1", "name": "abc",
                                                            "space": "a b"})
    chart_dir = fx.write_chart(app, tmp_path)
    realtools.helm_template(chart_dir, release="codes", namespace="ns")  # the plain values pass
    values_file = tmp_path / "values.yaml"
    values_file.write_text(fx.values_file_text({"values": {field: text}}), encoding="utf-8")
    with pytest.raises(realtools.ToolError, match="values"):
        realtools.helm_template(chart_dir, [values_file], release="codes", namespace="ns")


@pytest.mark.parametrize("pattern", [r"^(?!admin$)[a-z]+$", r"^(a)\1$", r"^a\Z", "^a++$", r"^\u0061$", "(?#c)a"])
def test_patterns_helm_cannot_read_are_refused(pattern, tmp_path):
    """Check refuses (E0307) the patterns Python reads and Go does not: helm would refuse the chart."""
    assert compile_pattern(pattern) and go_unsupported(pattern)
    values = fx.record("Codes", "", fx.field("code", StringType(pattern), "", optional=True))
    chart_dir = fx.write_chart(fx.make_app("codes", values_record=values, values={}), tmp_path)
    with pytest.raises(realtools.ToolError, match="is not valid regex"):
        realtools.helm_template(chart_dir, release="codes", namespace="ns")
