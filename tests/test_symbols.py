"""The symbol table below the protocol: definitions, references, rename, completion, hover facts.

Each test analyses a copy of examples/shop in-process (`session.analyse`) and queries
`gop.compiler.semantic.symbols.SymbolTable` by (file, offset), as the language server does;
a few check the server's conversions (`gop.lsp.complete`, `gop.lsp.hover`) on its answers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gop.compiler.semantic.symbols import RenameRefused, Symbol, completions_at, signature_at
from gop.compiler.session import analyse
from gop.compiler.syntax.parser import parse
from gop.compiler.syntax.tokens import tokens
from gop.lsp import complete, hover
from gop.lsp.project import Snapshot, symbol_table

import txtar

REPO = Path(__file__).resolve().parents[1]


class Shop:
    """examples/shop analysed, with helpers to find offsets by text."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.snapshot = Snapshot(analyse([str(root)]), 0, {}, 0.0)
        self.table = self.snapshot.symbols
        self.program = self.table.program

    def key(self, name: str) -> str:
        return next(k for k in self.program.files if k.endswith("/" + name) or k == name)

    def tree(self, name: str):
        return self.program.files[self.key(name)]

    def text(self, name: str) -> str:
        return self.program.sources[self.key(name)].text

    def offset(self, name: str, needle: str, delta: int = 0) -> int:
        return self.text(name).index(needle) + delta

    def at(self, name: str, needle: str, delta: int = 0):
        return self.table.at(self.key(name), self.tree(name), self.offset(name, needle, delta))

    def definitions(self, name: str, needle: str, delta: int = 0) -> list[tuple[str, str]]:
        """(file name, text) of each definition of the name at `needle` + `delta`."""
        spans = self.table.definitions_at(self.key(name), self.tree(name), self.offset(name, needle, delta))
        return [(Path(s.file).name, self.program.sources[s.file].text[s.start:s.end]) for s in spans]

    def referenced(self, name: str, needle: str, delta: int = 0) -> list[tuple[str, str]]:
        found = self.table.references_at(self.key(name), self.tree(name), self.offset(name, needle, delta), dict(self.program.files))
        return sorted((Path(k).name, self.program.sources[k].text[o.span.start:o.span.end]) for k, o in found)

    def completions(self, name: str, text: str, offset: int) -> dict[str, object]:
        tree = parse(self.key(name), text).file
        _, items = completions_at(self.table, self.key(name), tree, text, offset)
        return {item.label: item for item in items}


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Shop:
    root = tmp_path_factory.mktemp("symbols") / "shop"
    shutil.copytree(REPO / "examples" / "shop", root)
    return Shop(root)


# ---- definitions and references ------------------------------------------------------------------


def test_a_schema_through_an_import_alias_is_defined_in_the_imported_module(shop):
    assert shop.definitions("apps.gop", "lib.CheckoutValues", 4) == [("types.gop", "CheckoutValues")]
    alias = shop.at("apps.gop", "lib.CheckoutValues")
    assert alias.symbols[0].kind == "module" and alias.symbols[0].module.endswith("lib")


def test_the_import_path_names_the_module(shop):
    occurrence = shop.at("apps.gop", '"./lib"', 2)
    assert [s.kind for s in occurrence.symbols] == ["module"]
    assert shop.definitions("apps.gop", '"./lib"', 2) == [("types.gop", "")]  # the module's first file


def test_a_field_key_in_an_annotated_nested_body_is_the_schemas_field(shop):
    occurrence = shop.at("apps.gop", "paymentTimeout = 20s")
    assert occurrence.symbols == (Symbol("field", occurrence.symbols[0].module, "CheckoutValues", "paymentTimeout"),)
    assert occurrence.app == "checkout" and occurrence.path == ("values", "paymentTimeout")
    assert shop.definitions("apps.gop", "paymentTimeout") == [("types.gop", "paymentTimeout")]


def test_a_key_in_an_all_body_names_the_field_of_every_apps_schema(shop):
    occurrence = shop.at("envs.gop", "values.logLevel", 7)
    assert {s.name for s in occurrence.symbols} == {"CheckoutValues", "ServiceValues"}
    assert sorted(shop.definitions("envs.gop", "values.logLevel", 7)) == [("types.gop", "logLevel")] * 2


def test_a_resource_in_depends_on_is_the_declared_app(shop):
    assert shop.at("apps.gop", "dependsOn = [cart]", 13).symbols == (Symbol("app", "", "cart"),)
    assert shop.definitions("apps.gop", "dependsOn = [cart]", 13) == [("apps.gop", "cart")]
    assert shop.referenced("apps.gop", "app cart", 4) == [("apps.gop", "cart"), ("apps.gop", "cart")]


def test_a_selectors_label_key_is_the_declared_label_and_is_found_in_every_file(shop):
    assert shop.at("apps.gop", "where environment", 6).symbols == (Symbol("label", "", "environment"),)
    assert shop.definitions("apps.gop", "where environment", 6) == [("fleet.gop", "environment")]
    files = {file for file, _ in shop.referenced("fleet.gop", "environment: lib")}
    assert {"fleet.gop", "apps.gop", "envs.gop", "clusters.gop"} <= files


def test_a_let_used_in_an_interpolation_and_as_a_value(shop):
    assert shop.referenced("fleet.gop", "let domain", 4).count(("apps.gop", "domain")) == 3
    assert shop.table.let_value(shop.at("fleet.gop", "let domain", 4).symbols[0]) == "shop.example.com"


def test_a_buffer_newer_than_the_analysis_resolves_against_it(shop):
    key = shop.key("apps.gop")
    text = "// a line added above everything\n" + shop.text("apps.gop")
    tree = parse(key, text).file
    offset = text.index("dependsOn = [cart]") + 13
    assert shop.table.at(key, tree, offset).symbols == (Symbol("app", "", "cart"),)
    [span] = shop.table.definitions_at(key, tree, offset)
    assert text[span.start:span.end] == "cart" and span.start == text.index("app cart") + 4  # where it is now


# ---- rename ----------------------------------------------------------------------------------------------


def test_rename_an_app_rewrites_its_declaration_and_every_reference(shop):
    key = shop.key("apps.gop")
    edits = shop.table.rename(key, shop.tree("apps.gop"), shop.offset("apps.gop", "app cart", 4), "basket", dict(shop.program.files))
    spans = [(Path(file).name, shop.program.sources[file].text[s.start:s.end]) for file, found in edits.items() for s in found]
    assert sorted(spans) == [("apps.gop", "cart"), ("apps.gop", "cart")]


def test_rename_refuses_bad_names_taken_names_and_the_standard_library(shop):
    key, tree, files = shop.key("apps.gop"), shop.tree("apps.gop"), dict(shop.program.files)
    with pytest.raises(RenameRefused, match="not a valid name"):
        shop.table.rename(key, tree, shop.offset("apps.gop", "app cart", 4), "Cart_1", files)
    with pytest.raises(RenameRefused, match="already declared"):
        shop.table.rename(key, tree, shop.offset("apps.gop", "app cart", 4), "web", files)
    with pytest.raises(RenameRefused, match="standard library"):
        shop.table.rename(key, tree, shop.offset("apps.gop", "replicas = 3"), "copies", files)
    with pytest.raises(RenameRefused, match="several declarations"):
        shop.table.rename(shop.key("envs.gop"), shop.tree("envs.gop"), shop.offset("envs.gop", "values.logLevel", 7), "level", files)


# ---- completion and signatures --------------------------------------------------------------------------


def test_completion_offers_the_fields_of_the_record_at_a_nested_path(shop):
    text = shop.text("apps.gop").replace("paymentTimeout = 20s", "paymentTimeout = 20s\n    pay", 1)
    offset = text.index("    pay") + 7
    items = shop.completions("apps.gop", text, offset)
    assert "paymentTimeout" in items and "logLevel" in items and "replicas" not in items
    assert items["paymentTimeout"].kind == "field" and items["paymentTimeout"].detail.startswith("duration")


def test_completion_offers_declared_apps_in_depends_on_on_a_broken_line(shop):
    text = shop.text("apps.gop").replace("dependsOn = [cart]", "dependsOn = [ca", 1)  # unbalanced: the file does not parse
    offset = text.index("dependsOn = [ca") + len("dependsOn = [ca")
    assert parse(shop.key("apps.gop"), text).diagnostics
    items = shop.completions("apps.gop", text, offset)
    assert {"cart", "web", "checkout"} <= set(items) and items["cart"].kind == "class"
    word_start, _ = completions_at(shop.table, shop.key("apps.gop"), parse(shop.key("apps.gop"), text).file, text, offset)
    assert word_start == offset - 2


def test_completion_offers_imported_schemas_after_the_alias(shop):
    text = shop.text("apps.gop").replace("values: lib.ServiceValues {}", "values: lib.", 1)
    offset = text.index("values: lib.") + len("values: lib.")
    items = shop.completions("apps.gop", text, offset)
    assert {"ServiceValues", "CheckoutValues"} <= set(items) and "Environment" not in items  # records only


def test_completion_offers_label_values_in_a_selector(shop):
    text = shop.text("apps.gop").replace('where environment == "prod"', 'where environment == ', 1)
    offset = text.index("where environment == ") + len("where environment == ")
    assert {'"dev"', '"staging"', '"prod"'} <= set(shop.completions("apps.gop", text, offset))


def test_signature_of_a_secret_function_follows_the_argument_being_typed():
    text = 'x = sops("secrets/a.enc.yaml", '
    signature = signature_at(text, len(text))
    assert signature.function == "sops" and signature.parameters[signature.active][0] == "secret"
    help_ = complete.signature_help(signature)
    assert help_.signatures[0].label == "sops(file, secret = ..., key = ...)" and help_.active_parameter == 1


def test_nothing_is_offered_in_a_comment_and_without_an_analysis(shop):
    text = "// app "
    assert completions_at(shop.table, shop.key("apps.gop"), parse("x.gop", text).file, text, len(text))[1] == []
    _, items = completions_at(None, "x.gop", parse("x.gop", "").file, "", 0)
    assert "app" in {item.label for item in items}


# ---- hover facts and presentation ----------------------------------------------------------------------


def test_hover_of_a_field_shows_its_type_default_and_effective_values(shop):
    occurrence = shop.at("apps.gop", "paymentTimeout = 20s")
    info = shop.table.field(occurrence.symbols[0])
    assert info.type.describe().startswith("duration") and info.has_default
    text = hover.hover_markdown(shop.snapshot, occurrence, shop.root)
    assert "paymentTimeout: duration" in text and "Effective `values.paymentTimeout` of app `checkout`" in text


def test_hover_of_a_label_lists_the_clusters_by_value(shop):
    text = hover.hover_markdown(shop.snapshot, shop.at("apps.gop", "where environment", 6), shop.root)
    assert "label environment: " in text and "prod-us-1" in text


# ---- tokens -----------------------------------------------------------------------------------------------


def test_tokens_of_a_half_typed_text_cover_it_without_failing():
    text = 'app web { x = "abc\n  y = """open\n'
    found = tokens(text)
    assert [(t.kind, t.text) for t in found[:5]] == [("name", "app"), ("name", "web"), ("op", "{"), ("name", "x"), ("op", "=")]
    assert found[5].kind == "string" and found[5].text == '"abc'
    assert found[-1].kind == "triple" and found[-1].end == len(text)
    assert [t.kind for t in tokens("a @ // note")] == ["name", "other", "comment"]


# ---- types and visible names ------------------------------------------------------------------------------


def test_the_type_at_a_key_a_label_and_a_schema_name(shop):
    [duration] = shop.table.type_at(shop.key("apps.gop"), shop.tree("apps.gop"), shop.offset("apps.gop", "paymentTimeout = 20s"))
    assert duration.describe() == "duration(1s..2m)"
    [environment] = shop.table.type_at(shop.key("apps.gop"), shop.tree("apps.gop"), shop.offset("apps.gop", "where environment", 6))
    assert set(environment.values) == {"dev", "staging", "prod"}
    [record] = shop.table.type_at(shop.key("apps.gop"), shop.tree("apps.gop"), shop.offset("apps.gop", "lib.CheckoutValues", 4))
    assert "paymentTimeout" in record.fields
    assert shop.table.type_at(shop.key("apps.gop"), shop.tree("apps.gop"), 0) == ()  # `package`: no name there


def test_the_names_visible_in_a_file_are_its_modules_the_preludes_and_its_imports(shop):
    scope = shop.table.scope(shop.key("apps.gop"), shop.tree("apps.gop"))
    visible = dict(shop.table.visible_declarations(scope))
    assert "domain" in visible and "App" in visible and "CheckoutValues" not in visible  # that one needs `lib.`
    assert list(scope.imports) == ["lib"]


# ---- the language server's imports ------------------------------------------------------------------------


def test_the_language_server_uses_no_private_compiler_name_and_neither_the_cli_nor_the_commands():
    import ast as pyast

    offending = []
    for path in sorted((REPO / "lsp").glob("*.py")):
        for node in pyast.walk(pyast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, pyast.ImportFrom) and (node.module or "").startswith("gop.compiler"):
                names = [a.name for a in node.names if a.name.startswith("_")]
                if names or node.module.startswith(("gop.compiler.cli", "gop.compiler.commands")):
                    offending.append(f"{path.name}: from {node.module} import {', '.join(a.name for a in node.names)}")
            elif isinstance(node, pyast.Import):
                offending += [f"{path.name}: import {a.name}" for a in node.names
                              if a.name.startswith(("gop.compiler.cli", "gop.compiler.commands"))]
    assert offending == []


def _unresolved_references(table, analysis) -> list:
    """The (span, declaration) pairs of `Checker.references` that no occurrence in `table` names."""
    missing = []
    for span, decl in analysis.checker.references:
        inside = [o for o in table.occurrences(span.file, analysis.program.files[span.file])
                  if span.start <= o.span.start and o.span.end <= span.end]
        if not any(table.decl(s) is decl for o in inside for s in o.symbols):
            missing.append((span, decl))
    return missing


def test_every_name_the_checker_resolved_is_an_occurrence_of_the_same_declaration(shop):
    """`Checker.references` (what the checker resolved while checking) against the table's occurrences."""
    assert len(shop.snapshot.analysis.checker.references) > 20
    assert _unresolved_references(shop.table, shop.snapshot.analysis) == []


@pytest.mark.parametrize("archive", sorted((REPO / "tests" / "golden" / "check").glob("*.txtar")), ids=lambda p: p.stem)
def test_the_checker_and_the_symbol_table_agree_on_every_check_golden(archive, tmp_path, monkeypatch):
    for name, data in txtar.read(archive).sections:
        if name.endswith(".gop"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(data, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    analysis = analyse(["."])
    if analysis.checker is not None:
        assert _unresolved_references(symbol_table(analysis), analysis) == []


def test_workload_fields_complete_and_hover_from_the_prelude(shop):
    """The fields of issue 13 come from the prelude: completion offers them, nested ones too, and hover shows
    their type, default and effective values."""
    text = shop.text("apps.gop").replace('  namespace = "shop"\n  replicas = 3', '  namespace = "shop"\n  wor\n  replicas = 3', 1)
    items = shop.completions("apps.gop", text, text.index("\n  wor\n") + 6)
    assert "workload" in items and items["workload"].kind == "field"
    text = shop.text("apps.gop").replace('  namespace = "shop"\n  replicas = 3',
                                         '  namespace = "shop"\n  cronJob {\n    ti\n  }\n  replicas = 3', 1)
    items = shop.completions("apps.gop", text, text.index("    ti\n") + 6)
    assert {"timeZone", "schedule", "concurrencyPolicy"} <= set(items) and "replicas" not in items
    workloads = Shop(REPO / "examples" / "workloads")
    occurrence = workloads.at("apps.gop", 'workload = "StatefulSet"')
    info = workloads.table.field(occurrence.symbols[0])
    assert info.type.describe().startswith('"Deployment" | "StatefulSet"') and not info.has_default
    markdown = hover.hover_markdown(workloads.snapshot, occurrence, workloads.root)
    assert "The workload kind that runs the pods; absent: a Deployment." in markdown and "Effective `workload` of app `ledger`" in markdown


def test_pod_fields_of_issue_13_complete_and_hover_from_the_prelude():
    """Sleep hooks, node affinity, pod affinity terms and projected tokens: completion offers them
    inside their records, inside list elements too, and hover shows their doc."""
    workloads = Shop(REPO / "examples" / "workloads")
    text = workloads.text("apps.gop").replace("  lifecycle {\n    preStopSleep", "  lifecycle {\n    pre\n    preStopSleep", 1)
    items = workloads.completions("apps.gop", text, text.index("\n    pre\n") + 8)
    assert {"preStop", "preStopSleep", "postStartSleep"} <= set(items) and items["preStopSleep"].kind == "field"
    text = workloads.text("apps.gop").replace("    podAffinity = [{ apps", "    no\n    podAffinity = [{ apps", 1)
    items = workloads.completions("apps.gop", text, text.index("\n    no\n") + 7)
    assert {"nodes", "podAffinity", "podAntiAffinity", "zones"} <= set(items)
    text = workloads.text("apps.gop").replace('{ audience = "vault"', '{ au, audience = "vault"', 1)
    items = workloads.completions("apps.gop", text, text.index("{ au,") + 4)
    assert {"audience", "expirationSeconds", "path"} <= set(items)
    occurrence = workloads.at("apps.gop", "preStopSleep { seconds = 10 }")
    markdown = hover.hover_markdown(workloads.snapshot, occurrence, workloads.root)
    assert "Pause before the container is stopped" in markdown
    occurrence = workloads.at("apps.gop", "podAffinity = [")
    markdown = hover.hover_markdown(workloads.snapshot, occurrence, workloads.root)
    assert "Run the pods near pods of other apps" in markdown
