"""The parser (compiler/syntax/parser.py -> compiler/syntax/ast.py) on valid and invalid text.

- the examples and the standard library parse without diagnostics;
- spans: every node lies inside the file, every child inside its parent, and a node of valid
  text holds whole bracket pairs;
- equality of syntax trees ignores spans, comments and docs (re-laid-out text parses equal);
- robustness (hypothesis): any text - random text, random bytes decoded with
  errors="replace", random mutations of the examples and of generated programs - gives a
  ParseResult, never an exception, with every diagnostic span inside the text;
- doc comments (`///`) attach to the declaration or field that follows them.

Generated valid programs come from tests/strategies.py.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import strategies
from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import ParseResult, parse

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted((REPO / "examples").rglob("*.gop"))
STDLIB_FILES = sorted(
    entry.name for entry in importlib.resources.files("gop.stdlib").iterdir() if entry.name.endswith(".gop")
)
EXAMPLE_TEXTS = {path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8") for path in EXAMPLE_FILES}

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stdlib_text(name: str) -> str:
    return importlib.resources.files("gop.stdlib").joinpath(name).read_text(encoding="utf-8")


CRASH_REPRODUCER = "app web { a = ] }\n"
BLANK_TRIPLE_STRING_REPRODUCER = 'let x = """\n\n\n"""\n'
SPAN_REPRODUCER = "app web {\n  a = [b"


def _children_outside_parents(file: ast.File, text: str) -> list[str]:
    problems = []
    for node in file.walk():
        for child in node.children():
            if node.span.contains(child.span):
                continue
            problems.append(
                f"{type(child).__name__} {child.span.start}..{child.span.end} {text[child.span.start:child.span.end]!r} "
                f"outside {type(node).__name__} {node.span.start}..{node.span.end} {text[node.span.start:node.span.end]!r}"
            )
    return problems


def check_result(path: str, text: str) -> ParseResult | None:
    """Parse `text`; assert the result is a complete tree whose spans and diagnostics fit the text.

    """
    result = parse(path, text)
    assert isinstance(result, ParseResult)
    assert isinstance(result.file, ast.File)
    assert result.file.span.start == 0 and result.file.span.end == len(text)
    for node in result.file.walk():
        assert node.span.file == path
        assert 0 <= node.span.start <= node.span.end <= len(text), (type(node).__name__, node.span)
    assert _children_outside_parents(result.file, text) == []
    for diagnostic in result.diagnostics:
        assert diagnostic.span.file == path
        assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text), diagnostic
        assert diagnostic.code.startswith("E01") or diagnostic.code in ("E0330", "E0331"), diagnostic  # syntax, or past a limit
        assert diagnostic.message
    return result


# ---- the examples and the standard library -----------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLE_TEXTS))
def test_every_example_parses_without_diagnostics(path):
    result = check_result(path, EXAMPLE_TEXTS[path])
    assert result is not None and result.diagnostics == ()
    assert not any(isinstance(node, (ast.BadDecl, ast.Missing)) for node in result.file.walk())


@pytest.mark.parametrize("name", STDLIB_FILES)
def test_every_stdlib_file_parses_without_diagnostics(name):
    result = check_result(f"<std>/{name}", stdlib_text(name))
    assert result is not None and result.diagnostics == ()
    assert not any(isinstance(node, (ast.BadDecl, ast.Missing)) for node in result.file.walk())


def test_the_examples_are_found():
    assert "examples/shop/apps.gop" in EXAMPLE_TEXTS and "examples/shop/lib/types.gop" in EXAMPLE_TEXTS
    assert "prelude.gop" in STDLIB_FILES


def test_the_shop_apps_have_the_expected_shape():
    file = parse("apps.gop", EXAMPLE_TEXTS["examples/shop/apps.gop"]).file
    apps = [d for d in file.decls if isinstance(d, ast.ResourceDecl)]
    assert [(d.kind, d.name.text) for d in apps] == [
        ("app", "checkout"), ("app", "cart"), ("app", "web"), ("app", "recommendations")
    ]
    recommendations = apps[-1]
    assert isinstance(recommendations.selector, ast.SelAnd)
    assert recommendations.selector.left == ast.SelCompare(
        None, ast.Name(None, "environment"), "==", ast.StringLit(None, ("prod",))
    )
    checkout_env = next(s for s in apps[0].body.stmts if isinstance(s, ast.Block) and s.path.dotted == "env")
    url = checkout_env.body.stmts[0].value
    assert isinstance(url, ast.StringLit)
    assert url.parts[0] == "https://orders." and url.parts[2] == "/v1"
    assert url.parts[1].expr == ast.Ref(None, (ast.Name(None, "domain"),))


# ---- spans ----------------------------------------------------------------------------------------


@given(strategies.programs(max_decls=3))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_programs_parse_cleanly_with_nested_spans(text):
    result = check_result("gen.gop", text)
    assert result is not None and result.diagnostics == ()


def test_span_text_matches_the_node():
    text = EXAMPLE_TEXTS["examples/shop/envs.gop"]
    file = parse("envs.gop", text).file
    for node in file.walk():
        snippet = text[node.span.start : node.span.end]
        if isinstance(node, ast.Name):
            assert snippet == node.text
        elif isinstance(node, ast.Key) and not node.quoted:
            assert snippet == node.text
        elif isinstance(node, ast.ResourceDecl):
            assert snippet.startswith(node.kind + " ") and snippet.endswith("}")
        elif isinstance(node, ast.StringLit):
            assert snippet.startswith('"') and snippet.endswith('"')


# Strings and comments: the text whose brackets and blanks are not syntax.
_ATOMS = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|//[^\n]*')
_PAIRS = {")": "(", "]": "[", "}": "{"}


def unbalanced_nodes(path: str, text: str) -> list[str]:
    """Nodes of a valid file whose text does not hold whole bracket pairs (a span cut short or too long)."""
    found = []
    for node in parse(path, text).file.walk():
        if isinstance(node, ast.Comment):
            continue
        snippet = _ATOMS.sub('""', text[node.span.start : node.span.end])
        stack: list[str] = []
        for ch in snippet:
            if ch in "([{":
                stack.append(ch)
            elif ch in _PAIRS and (not stack or stack.pop() != _PAIRS[ch]):
                stack.append("!")
                break
        if stack:
            found.append(f"{type(node).__name__} {text[node.span.start : node.span.end]!r}")
    return found


BALANCE_REPRODUCERS = {
    "schema.gop": "schema S {\n  a: int\n}\n",
    "labels.gop": "labels {\n  region: string\n}\n",
    "refined.gop": "type Port = int(1..65535)\n",
    "selector.gop": 'app web where a == "x" and (b == "y" or c exists) {\n}\n',
}


@pytest.mark.parametrize("name", sorted(BALANCE_REPRODUCERS))
def test_node_spans_hold_whole_bracket_pairs(name):
    assert unbalanced_nodes(name, BALANCE_REPRODUCERS[name]) == []


def test_every_node_of_the_examples_and_stdlib_holds_whole_bracket_pairs():
    texts = dict(EXAMPLE_TEXTS) | {name: stdlib_text(name) for name in STDLIB_FILES}
    assert {path: unbalanced_nodes(path, text) for path, text in texts.items()} == {path: [] for path in texts}


def test_node_spans_hold_whole_bracket_pairs_in_resource_bodies():
    """The part of the invariant that holds today, on the examples: values, bodies and resources."""
    kinds = (ast.ResourceDecl, ast.Body, ast.Block, ast.Assign, ast.ListLit, ast.MapLit, ast.Call, ast.StringLit)
    for path, text in EXAMPLE_TEXTS.items():
        problems = [p for p in unbalanced_nodes(path, text) if p.split(" ", 1)[0] in {k.__name__ for k in kinds}]
        assert problems == [], path


# ---- equality ignores spans --------------------------------------------------------------------

_BLANKS = re.compile(r"(?<=\S)[ \t]+|(?<=\n)[ \t]+(?=\S)|\n")


def relayout(text: str, widen, end_of_line=lambda: "") -> str:
    """Change the layout outside strings and comments: `widen(run)` replaces each run of blanks
    after a token or of indentation; `end_of_line()` is put before every line break."""

    def change(segment: str) -> str:
        return _BLANKS.sub(lambda m: end_of_line() + "\n" if m.group() == "\n" else widen(m.group()), segment)

    out, position = [], 0
    for match in _ATOMS.finditer(text):
        out += [change(text[position : match.start()]), match.group()]
        position = match.end()
    out.append(change(text[position:]))
    return "".join(out)


@pytest.mark.parametrize("path", sorted(EXAMPLE_TEXTS))
def test_relaid_out_examples_parse_equal(path):
    text = EXAMPLE_TEXTS[path]
    widened = relayout(text, lambda run: run + "  \t ", lambda: "  // trailing comment")
    assert widened.count("// trailing comment") > 10
    original, changed = parse("a.gop", text), parse("b.gop", widened)
    assert changed.diagnostics == ()
    assert original.file == changed.file
    assert [n.span for n in original.file.walk()] != [n.span for n in changed.file.walk()]


@given(st.sampled_from(sorted(EXAMPLE_TEXTS)), st.randoms(use_true_random=False))
@settings(max_examples=40, deadline=None)
def test_random_whitespace_does_not_change_the_tree(path, random):
    text = EXAMPLE_TEXTS[path]
    widened = relayout(text, lambda run: run + random.choice(["", " ", "\t", "   "]))
    assert parse("b.gop", widened).file == parse("a.gop", text).file


def test_different_text_parses_unequal():
    assert parse("a.gop", "let x = 1\n").file != parse("a.gop", "let x = 2\n").file
    assert parse("a.gop", 'let x = "a"\n').file != parse("a.gop", 'let x = "a "\n').file


# ---- robustness: any text -------------------------------------------------------------------------


@given(st.text(max_size=300))
@FUZZ
def test_any_text_gives_a_parse_result(text):
    check_result("any.gop", text)


@given(st.binary(max_size=300))
@FUZZ
def test_any_bytes_decoded_with_replacement_give_a_parse_result(data):
    check_result("bytes.gop", data.decode("utf-8", errors="replace"))


_PUNCTUATION = list('{}[](),=:."$\\/-+*|?@#;\n\t') + ["${", '"""', "//", "///", "..", "==", " app ", "\napp x {\n", "\n}\n", "\x00"]


@st.composite
def mutated(draw, base: st.SearchStrategy[str]) -> str:
    """A text with random deletions, punctuation insertions and duplicated lines."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate-line"]))
        if kind == "delete" and text:
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 20)) :]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(_PUNCTUATION)) + text[at:]
        else:
            lines = text.split("\n")
            index = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[: index + 1] + lines[index:])
    return text


@given(mutated(st.sampled_from(sorted(EXAMPLE_TEXTS.values()) + [stdlib_text("prelude.gop")])))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(CRASH_REPRODUCER)
@example(SPAN_REPRODUCER)
@example(BLANK_TRIPLE_STRING_REPRODUCER)
def test_mutated_examples_give_a_parse_result(text):
    check_result("mutated.gop", text)


@given(mutated(strategies.programs(max_decls=3)))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_generated_programs_give_a_parse_result(text):
    check_result("mutated.gop", text)


def test_deep_nesting_is_an_error_not_a_crash():
    text = "let x = " + "(" * 3000 + "1" + ")" * 3000 + "\n" + "let y = " + "[" * 3000 + "\n"
    result = check_result("deep.gop", text)
    assert result is not None and result.diagnostics and all(d.is_error for d in result.diagnostics)


def test_a_closing_bracket_where_a_value_belongs_does_not_raise():
    for text in (CRASH_REPRODUCER, "let x = ]\n", "cluster c {\n  a = )\n}\n"):
        result = parse("crash.gop", text)
        assert [d.code for d in result.diagnostics] == ["E0102"]


def test_a_triple_quoted_string_of_blank_lines_parses():
    result = parse("blank.gop", BLANK_TRIPLE_STRING_REPRODUCER)
    assert result.diagnostics == ()
    assert result.file.decls[0].value.parts == ("\n",)


def test_a_keyword_glued_to_a_name_is_an_error():
    for text in ("let a = 1\nletb = 2\n", "appcart {}\n", "typeT = int\n"):
        result = parse("glued.gop", text)
        assert [d.code for d in result.diagnostics] == ["E0101"], text


def test_recovery_keeps_the_statement_on_the_next_line():
    body = parse("a.gop", "app web {\n  a = 5x\n  b = 2\n}\n").file.decls[0].body
    b = ast.Assign(None, ast.Path(None, (ast.Key(None, "b"),)), ast.IntLit(None, 2))
    assert b in body.stmts
    assert not any(isinstance(s, ast.Assign) and s.path.dotted == "x" for s in body.stmts)


def test_nodes_closed_by_recovery_at_the_end_contain_their_children():
    for text in (SPAN_REPRODUCER, "app web {\n  a", "schema S {\n  s"):
        assert _children_outside_parents(parse("span.gop", text).file, text) == []


def test_a_value_missing_at_the_end_of_the_input_is_reported_after_the_equals_sign():
    result = parse("eof.gop", "let x =")
    assert [(d.code, d.span.start, d.message) for d in result.diagnostics] == [("E0102", 7, "expected a value after `=`")]
    text = 'let c = "x${a +}y"\n'  # the same at the end of an interpolation's expression
    (missing,) = parse("interpolation.gop", text).diagnostics
    assert (missing.code, missing.span.start) == ("E0102", text.index("}"))
    assert "after `a`" not in missing.message


# ---- doc comments -----------------------------------------------------------------------------------


def test_doc_comments_attach_to_the_declaration_that_follows():
    file = parse("fleet.gop", EXAMPLE_TEXTS["examples/shop/fleet.gop"]).file
    docs = {_decl_key(d): getattr(d, "doc", None) for d in file.decls}
    assert docs["labels"] == "Labels every cluster must carry; selectors are checked against them."
    assert docs["let domain"] == "The public domain of the shop."
    assert docs["source flux-system"] == "The Git repository Flux syncs this fleet from."
    assert docs["delivery"] == "How charts reach the clusters, and how Flux reconciles them."
    labels = next(d for d in file.decls if isinstance(d, ast.LabelsDecl))
    assert {f.name.text: f.doc for f in labels.fields} == {
        "environment": "The stage of the release pipeline this cluster belongs to.",
        "region": "The cloud region the cluster runs in.",
        "tier": "Optional support tier of the cluster.",
    }


def test_doc_comments_attach_to_schema_fields_and_types():
    file = parse("types.gop", EXAMPLE_TEXTS["examples/shop/lib/types.gop"]).file
    docs = {_decl_key(d): getattr(d, "doc", None) for d in file.decls}
    assert docs["type Region"] == "Regions the shop runs in."
    checkout = next(d for d in file.decls if isinstance(d, ast.SchemaDecl) and d.name.text == "CheckoutValues")
    assert checkout.doc == "Extra values of the checkout service."
    assert {f.name.text: f.doc for f in checkout.fields}["paymentTimeout"] == "Give up on a payment after this long."


def test_doc_comment_rules():
    text = (
        "/// line one\n"
        "///   line two, indented\n"
        "app web { }\n"
        "\n"
        "// an ordinary comment\n"
        "app cart { }\n"
        "\n"
        "/// separated by a blank line\n"
        "\n"
        "app api { }\n"
        "let x = 1 /// trailing: not a doc\n"
        "let y = 2\n"
        "schema S {\n"
        "  /// the field\n"
        "  a: int\n"
        "  b: int\n"
        "}\n"
    )
    file = parse("doc.gop", text).file
    docs = {_decl_key(d): getattr(d, "doc", None) for d in file.decls}
    assert docs == {
        "app web": "line one\n  line two, indented",
        "app cart": None,
        "app api": None,
        "let x": None,
        "let y": None,
        "schema S": None,
    }
    schema = file.decls[-1]
    assert [(f.name.text, f.doc) for f in schema.fields] == [("a", "the field"), ("b", None)]
    assert [c.is_doc for c in file.comments] == [True, True, False, True, True, True]


def test_docs_and_comments_do_not_take_part_in_equality():
    documented = parse("a.gop", "/// doc\nlet x = 1 // note\n").file
    plain = parse("b.gop", "let x = 1\n").file
    assert documented == plain
    assert documented.decls[0].doc == "doc" and plain.decls[0].doc is None


def _decl_key(decl) -> str:
    if isinstance(decl, ast.ResourceDecl):
        return f"{decl.kind} {decl.name.text}" if decl.name else decl.kind
    if isinstance(decl, ast.LabelsDecl):
        return "labels"
    keyword = {ast.TypeDecl: "type", ast.SchemaDecl: "schema", ast.LetDecl: "let"}.get(type(decl), type(decl).__name__)
    return f"{keyword} {decl.name.text}" if hasattr(decl, "name") else keyword
