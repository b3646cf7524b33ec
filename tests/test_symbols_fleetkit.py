"""The symbol table and the language server's views on templates, defaults, narrowings and comprehensions.

A two-file fleet (templates in one file, a `for` over a table and a written app using them in the
other) is analysed in-process; queries go to `SymbolTable` by (file, offset) as the server sends
them, and to the server's conversions (hover, semantic tokens, outline).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gop.compiler.core.span import SourceFile
from gop.compiler.semantic.symbols import RenameRefused, completions_at
from gop.compiler.syntax.parser import parse
from gop.compiler.session import analyse
from gop.lsp import convert, hover
from gop.lsp.tokens import LEGEND, document_symbols, semantic_tokens

from test_symbols import Shop

TEMPLATES = '''package fleet

labels {
  environment: "dev" | "staging" | "prod"
  region: "eu-west-1" | "cn-north-1"
  zone?: string
}

/// Every service's common shape.
template service for app uses observed {
  namespace = "shop"
  image.repository = "ghcr.io/acme/${app.name}"
  ports { http = 8080 }
}

/// Probes every service answers.
template observed for app {
  liveness { path = "/healthz" }
}

defaults for app { replicas = 2 }

narrow App { replicas: int(1..10) }
'''

APPS = '''package fleet

let services = {
  cart = { port = 8080, tag = "1.0.0" }
  web = { port = 8081, tag = "2.0.0" }
}

for name, svc in services {
  app "${name}" uses service {
    image.tag = svc.tag
    ports { http = svc.port }
  }
}

app admin uses service { image.tag = "0.1.0" }

env prod where environment == "prod" {
  all { env.REGION = "${cluster.labels.region}" }
  app cart { replicas = 3 }
}

cluster prod-eu {
  labels { environment = "prod", region = "eu-west-1" }
}
'''


# A template with a field apps do not have and a row whose port is out of range.
DIAGNOSED = '''template web for app {
  image.repository = "ghcr.io/acme/${app.name}"
  replicaz = 2
}

let services = {
  cart = { port = 8080 }
  api = { port = 70000 }
}

for name, svc in services {
  app "${name}" uses web {
    image.tag = "1.0.0"
    ports.http = svc.port
  }
}
'''


class Fleet(Shop):
    """The fleet analysed; positions are also shown with their lines."""

    def args(self, name: str, needle: str, delta: int = 0):
        return self.key(name), self.program.files[self.key(name)], self.offset(name, needle, delta)

    def shown(self, spans) -> list[tuple[str, int, str]]:
        """(file name, line, text) of spans, sorted."""
        out = []
        for span in spans:
            source = self.program.sources[span.file]
            out.append((Path(span.file).name, source.position(span.start).line + 1, source.text[span.start:span.end]))
        return sorted(out)

    def definitions(self, name: str, needle: str, delta: int = 0):
        return self.shown(self.table.definitions_at(*self.args(name, needle, delta)))

    def references(self, name: str, needle: str, delta: int = 0):
        found = self.table.references_at(*self.args(name, needle, delta), dict(self.program.files))
        return self.shown(o.span for _, o in found)

    def rename(self, name: str, needle: str, new: str, delta: int = 0):
        edits = self.table.rename(*self.args(name, needle, delta), new, dict(self.program.files))
        return self.shown(span for spans in edits.values() for span in spans)

    def complete(self, name: str, typed: str) -> tuple[str, list[str]]:
        """The word being replaced and the labels offered at the end of `typed` appended to a file."""
        text = self.text(name) + typed
        tree = parse(self.key(name), text).file
        start, items = completions_at(self.table, self.key(name), tree, text, len(text))
        return text[start:], sorted(item.label for item in items)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Fleet:
    root = tmp_path_factory.mktemp("fleetkit")
    (root / "templates.gop").write_text(TEMPLATES, encoding="utf-8")
    (root / "apps.gop").write_text(APPS, encoding="utf-8")
    return Fleet(root)


# ---- templates: definition, references, rename ------------------------------------------------------------


def test_a_uses_name_is_defined_by_its_template_in_another_file(fleet):
    assert fleet.definitions("apps.gop", "uses service", 5) == [("templates.gop", 10, "service")]
    assert fleet.definitions("templates.gop", "uses observed", 5) == [("templates.gop", 17, "observed")]


def test_the_references_of_a_template_are_its_declaration_and_every_uses(fleet):
    assert fleet.references("templates.gop", "template service", 9) == [
        ("apps.gop", 9, "service"), ("apps.gop", 15, "service"), ("templates.gop", 10, "service")]


def test_rename_a_template_rewrites_every_uses_across_files_and_refuses_taken_or_bad_names(fleet):
    assert fleet.rename("apps.gop", "app admin uses service", "web-base", 15) == [
        ("apps.gop", 9, "service"), ("apps.gop", 15, "service"), ("templates.gop", 10, "service")]
    with pytest.raises(RenameRefused, match="already declared"):
        fleet.rename("apps.gop", "uses service", "observed", 5)
    with pytest.raises(RenameRefused, match="not a valid template name"):
        fleet.rename("apps.gop", "uses service", "web service", 5)


# ---- comprehensions: loop variables ------------------------------------------------------------------------


def test_a_loop_variable_is_defined_in_its_for_and_used_in_names_and_values(fleet):
    assert fleet.definitions("apps.gop", "svc.tag") == [("apps.gop", 8, "svc")]
    assert fleet.definitions("apps.gop", '"${name}"', 3) == [("apps.gop", 8, "name")]
    assert fleet.references("apps.gop", "svc.port") == [("apps.gop", 8, "svc"), ("apps.gop", 10, "svc"), ("apps.gop", 11, "svc")]


def test_rename_a_loop_variable_stays_in_its_for_and_refuses_a_context_root(fleet):
    assert fleet.rename("apps.gop", "svc.tag", "row") == [("apps.gop", 8, "svc"), ("apps.gop", 10, "svc"), ("apps.gop", 11, "svc")]
    with pytest.raises(RenameRefused, match="not a valid loop variable"):
        fleet.rename("apps.gop", "svc.tag", "cluster")
    with pytest.raises(RenameRefused, match="already declared"):
        fleet.rename("apps.gop", "svc.tag", "name")


def test_the_iterable_and_the_members_bodies_resolve_like_written_declarations(fleet):
    assert fleet.definitions("apps.gop", "in services", 3) == [("apps.gop", 3, "services")]
    tag = fleet.at("apps.gop", "image.tag = svc", 6)
    assert [(s.kind, s.name, s.member) for s in tag.symbols] == [("field", "Image", "tag")]


# ---- bodies of templates and defaults, narrowings, context interpolations -------------------------------------


def test_template_and_defaults_bodies_are_the_apps_record(fleet):
    replicas = fleet.at("templates.gop", "defaults for app { replicas", 19)
    assert [(s.kind, s.name, s.member) for s in replicas.symbols] == [("field", "App", "replicas")]
    assert fleet.definitions("templates.gop", "liveness {")[0][2] == "liveness"


def test_a_narrowed_field_is_the_schemas_field_and_its_type_is_the_schemas(fleet):
    narrowed = fleet.at("templates.gop", "narrow App { replicas", 13)
    assert [(s.kind, s.name, s.member) for s in narrowed.symbols] == [("field", "App", "replicas")]
    assert fleet.definitions("templates.gop", "narrow App", 7)[0][2] == "App"


def test_a_cluster_label_in_an_interpolation_is_the_declared_label(fleet):
    assert fleet.definitions("apps.gop", "labels.region}", 7) == [("templates.gop", 5, "region")]


# ---- completion ----------------------------------------------------------------------------------------------


def test_completion_offers_the_new_top_level_keywords_and_templates_after_uses(fleet):
    _, top = fleet.complete("apps.gop", "\n")
    assert {"template", "defaults", "narrow", "for"} <= set(top)
    assert fleet.complete("apps.gop", "\napp extra uses ") == ("", ["observed", "service"])
    assert fleet.complete("apps.gop", "\napp extra uses service, ob") == ("ob", ["observed"])
    assert fleet.complete("apps.gop", "\napp extra ") == ("", ["uses", "where"])
    assert fleet.complete("apps.gop", "\ntemplate extra for ") == ("", ["app", "release", "resource"])


def test_completion_in_template_defaults_and_narrow_bodies_offers_the_kinds_fields(fleet):
    assert fleet.complete("apps.gop", "\ntemplate t for app {\n  image.") == ("", ["pullPolicy", "repository", "tag"])
    _, release = fleet.complete("apps.gop", "\ndefaults for release {\n  ")
    assert {"chart", "values", "interval"} <= set(release) and "image" not in release
    _, narrowed = fleet.complete("apps.gop", "\nnarrow App {\n  ")
    assert {"replicas", "image", "ports"} <= set(narrowed)


def test_completion_in_a_for_offers_loop_variables_and_their_rows_keys(fleet):
    body = "\nfor key, row in services {\n  app \"${key}\" uses service {\n    "
    assert fleet.complete("apps.gop", body + "image.tag = row.") == ("", ["port", "tag"])
    assert fleet.complete("apps.gop", body + 'image.tag = "${row.t') == ("t", ["port", "tag"])
    _, values = fleet.complete("apps.gop", body + "replicas = ")
    assert {"key", "row", "services"} <= set(values)
    _, fields = fleet.complete("apps.gop", body + "image.")
    assert fields == ["pullPolicy", "repository", "tag"]
    inventory = '\nlet inventory = [{ name = "a", region = "eu-west-1" }]\nfor c in inventory {\n  cluster "${c.name}" {\n'
    assert fleet.complete("apps.gop", inventory + "    labels { region = c.") == ("", ["name", "region"])


def test_completion_in_an_interpolation_offers_context_values_and_label_keys(fleet):
    inside = '\nenv dev where environment == "dev" {\n  all { env.A = "${'
    assert fleet.complete("apps.gop", inside + "cluster.labels.re") == ("re", ["environment", "region", "zone"])
    assert fleet.complete("apps.gop", inside + "cluster.") == ("", ["labels", "name"])
    assert fleet.complete("apps.gop", inside + "app.") == ("", ["name"])
    word, roots = fleet.complete("apps.gop", inside + "cl")
    assert word == "cl" and {"app", "env", "cluster", "services"} <= set(roots)


# ---- hover, tokens, outline -------------------------------------------------------------------------------------


def test_hover_of_a_template_shows_its_kind_doc_bases_and_users(fleet):
    text = hover.hover_markdown(fleet.snapshot, fleet.at("apps.gop", "app admin uses service", 15), fleet.root)
    assert "template service for app uses observed" in text
    assert "Every service's common shape." in text
    assert "used by: app `admin`" in text


def test_hover_of_a_loop_variable_says_what_it_iterates(fleet):
    text = hover.hover_markdown(fleet.snapshot, fleet.at("apps.gop", "svc.tag"), fleet.root)
    assert "for name, svc in" in text and "loop variable `svc`: the value of each entry (line 8)" in text


def _token_types(fleet: Fleet, name: str) -> dict[str, str]:
    """Each token's text -> its semantic token type (the last one when a text appears several times)."""
    text = fleet.text(name)
    source = SourceFile(fleet.key(name), text)
    data = semantic_tokens(text, source, fleet.table.occurrences(fleet.key(name), fleet.program.files[fleet.key(name)]))
    found, line, column = {}, 0, 0
    lines = text.split("\n")
    for index in range(0, len(data), 5):
        delta_line, delta_start, length, kind, _ = data[index:index + 5]
        line, column = line + delta_line, (column + delta_start if delta_line == 0 else delta_start)
        found[lines[line][column:column + length]] = LEGEND.token_types[kind]
    return found


def test_semantic_tokens_mark_the_new_keywords_templates_and_loop_variables(fleet):
    apps = _token_types(fleet, "apps.gop")
    assert (apps["for"], apps["uses"], apps["in"]) == ("keyword", "keyword", "keyword")
    assert (apps["service"], apps["svc"]) == ("class", "variable")
    templates = _token_types(fleet, "templates.gop")
    assert (templates["template"], templates["defaults"], templates["narrow"]) == ("keyword",) * 3


def test_the_outline_lists_templates_defaults_narrowings_and_for_members(fleet):
    def outline(name):
        tree = fleet.program.files[fleet.key(name)]
        return [(s.name, [c.name for c in s.children or ()]) for s in document_symbols(tree, fleet.program.sources[fleet.key(name)])]
    assert outline("templates.gop")[1:] == [
        ("service", ["namespace", "image.repository", "ports"]), ("observed", ["liveness"]),
        ("defaults for app", ["replicas"]), ("narrow App", ["replicas"])]
    assert outline("apps.gop")[1] == ("for name, svc in services", ['"${name}"'])


def test_hover_of_an_apps_field_names_the_template_or_defaults_block_that_set_it(fleet):
    """What hover shows for a field of app `admin` the app leaves to its template and to the fleet defaults."""
    written = fleet.at("templates.gop", 'namespace = "shop"')
    as_in_admin = dataclasses.replace(written, app="admin", path=("namespace",))
    text = hover.hover_markdown(fleet.snapshot, as_in_admin, fleet.root)
    assert 'env `prod`: `"shop"` — `template service` (template, templates.gop:11)' in text
    replicas = hover.effective_values(fleet.snapshot, "admin", ("replicas",), fleet.root)
    assert "env `prod`: `2` — `defaults` (defaults, templates.gop:21)" in replicas


# ---- declarations a `for` generates ------------------------------------------------------------------------


def test_a_generated_app_is_defined_at_its_rows_key_and_renamed_there(fleet):
    assert fleet.definitions("apps.gop", "app cart {", 4) == [("apps.gop", 4, "cart")]
    assert fleet.references("apps.gop", "app cart {", 4) == [("apps.gop", 4, "cart"), ("apps.gop", 19, "cart")]
    assert fleet.rename("apps.gop", "app cart {", "basket", 4) == [("apps.gop", 4, "cart"), ("apps.gop", 19, "cart")]


def test_hover_of_a_generated_app_names_its_for_and_row(fleet):
    text = hover.hover_markdown(fleet.snapshot, fleet.at("apps.gop", "app cart {", 4), fleet.root)
    assert "generated by the `for` at apps.gop:8 from the row at apps.gop:4" in text


def test_a_generated_name_built_of_several_parts_is_renamed_in_its_row_not_here(tmp_path):
    (tmp_path / "fleet.gop").write_text(
        'for n in ["cart"] {\n  app "${n}-api" {\n    image { repository = "ghcr.io/acme/${n}", tag = "1.0.0" }\n  }\n}\n\n'
        'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }\n  delivery { dependsOn = [cart-api] }\n}\n')
    fleet = Fleet(tmp_path)
    assert fleet.definitions("fleet.gop", "[cart-api]", 1) == [("fleet.gop", 1, '"cart"')]
    with pytest.raises(RenameRefused, match="generated by the `for` at fleet.gop:1 from a name built of several parts"):
        fleet.rename("fleet.gop", "[cart-api]", "basket-api", 1)


def test_diagnostics_of_generated_apps_point_at_the_row_and_at_the_template_line(tmp_path):
    (tmp_path / "fleet.gop").write_text(DIAGNOSED)
    analysis = analyse([str(tmp_path)])
    sources = analysis.program.sources
    found = sorted((convert.diagnostic(d, convert.Paths(), sources).range.start.line + 1, d.message) for d in analysis.diagnostics)
    assert [line for line, _ in found] == [3, 8], found
