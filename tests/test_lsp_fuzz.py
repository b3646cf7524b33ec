"""Random edit sequences against the real server: it keeps answering, and its final
diagnostics equal those of `gopc check` on the final text.

Edits are incremental `didChange` events (ranges in UTF-16, text with non-BMP characters),
made of fragments of the language (braces, quotes, keywords, `${`, `sops(`, newlines) at
random places of two buffers of the shop example; requests of every kind are interleaved
at random positions. One server serves all examples; each example starts from the
original texts. bench/lsp_fuzz.py runs the same machinery for 10,000 edits.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from gop.compiler.core.span import SourceFile
from test_lsp import REPO, Session, comparable_check, comparable_lsp, wait_until

FILES = ("apps.gop", "envs.gop")
FRAGMENTS = (
    "{", "}", "{ }", '"', '""', "=", " = ", ":", ".", ",", "[", "]", "(", ")", "\n", "\n\n", "  ", "//", "///",
    "${", "${domain}", "}", "app", "app web {", "app zz {", "all {", "env", "where", " == ", "and", "not",
    "replicas", "replicas = 3", 'replicas = "x"', "image", "image.tag", "values", "lib.", "lib.LogLevel", ": ",
    "sops(", 'sops("f", secret = "s", key = "k")', "1", "250m", "1h30m", "true", "-", "é", "😀", "\t", "\\",
    '"""', "labels", "schema S { a: int }", "let x = 1", "package shop", "import \"./lib\"", "delivery", "cluster",
)
REQUESTS = ("hover", "completion", "definition", "references", "tokens", "symbols", "highlight", "inlay", "signature",
            "rename", "format", "actions")


@st.composite
def edits(draw, max_edits: int = 12):
    """[(file index, start fraction, length, inserted text, request or None)]"""
    count = draw(st.integers(1, max_edits))
    steps = []
    for _ in range(count):
        file = draw(st.integers(0, len(FILES) - 1))
        where = draw(st.floats(0, 1))
        length = draw(st.sampled_from([0, 0, 1, 2, 5, 20]))
        text = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=3)))
        request = draw(st.none() | st.sampled_from(REQUESTS))
        steps.append((file, where, length, text, request))
    return steps


def range_edit(session: Session, uri: str, start: int, end: int, new: str) -> None:
    """Send one incremental change replacing text[start:end] (character offsets) with `new`."""
    text = session.texts[uri]
    source = SourceFile("x", text)
    begin, finish = source.utf16_position(start), source.utf16_position(end)
    session.versions[uri] += 1
    session.texts[uri] = text[:start] + new + text[end:]
    session.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=session.versions[uri]),
        content_changes=[lsp.TextDocumentContentChangeEvent_Type1(
            range=lsp.Range(start=lsp.Position(line=begin.line, character=begin.column),
                            end=lsp.Position(line=finish.line, character=finish.column)),
            text=new)]))


async def request(session: Session, kind: str, uri: str, offset: int):
    """Send one request at `offset`; every one must be answered (a result or a user-facing error)."""
    where = SourceFile("x", session.texts[uri]).utf16_position(offset)
    position = lsp.Position(line=where.line, character=where.column)
    doc = session.doc(uri)
    whole = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=10_000, character=0))
    client = session.client
    calls = {
        "hover": lambda: client.text_document_hover_async(lsp.HoverParams(doc, position)),
        "completion": lambda: client.text_document_completion_async(lsp.CompletionParams(doc, position)),
        "definition": lambda: client.text_document_definition_async(lsp.DefinitionParams(doc, position)),
        "references": lambda: client.text_document_references_async(lsp.ReferenceParams(
            text_document=doc, position=position, context=lsp.ReferenceContext(include_declaration=True))),
        "tokens": lambda: client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(doc)),
        "symbols": lambda: client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc)),
        "highlight": lambda: client.text_document_document_highlight_async(lsp.DocumentHighlightParams(doc, position)),
        "inlay": lambda: client.text_document_inlay_hint_async(lsp.InlayHintParams(doc, whole)),
        "signature": lambda: client.text_document_signature_help_async(lsp.SignatureHelpParams(doc, position)),
        "rename": lambda: client.text_document_rename_async(lsp.RenameParams(doc, position, "renamed")),
        "format": lambda: client.text_document_formatting_async(lsp.DocumentFormattingParams(
            doc, lsp.FormattingOptions(tab_size=2, insert_spaces=True))),
        "actions": lambda: client.text_document_code_action_async(lsp.CodeActionParams(
            doc, lsp.Range(start=position, end=position), lsp.CodeActionContext(diagnostics=[]))),
    }
    try:
        await asyncio.wait_for(calls[kind](), 30)
    except asyncio.TimeoutError:
        raise AssertionError(f"no answer to {kind}")
    except Exception as error:  # an error response is an answer; only a rename may refuse
        assert kind == "rename" and "internal" not in str(error).lower(), f"{kind}: {error}"


def analysis_failures(session: Session) -> int:
    return sum(1 for m in session.client.log_messages if m.type == lsp.MessageType.Error and " failed: " in m.message)


async def settle(session: Session, uris: list[str], failures_before: int) -> bool:
    """Wait for the diagnostics of the final versions (then one round trip, so that every
    notification sent before it has arrived); False if instead the server reports that the
    compiler crashed while analysing."""
    def final():
        versions = all(session.client.published.get(u, (None,))[0] == session.versions[u] for u in uris)
        return "done" if versions else "crashed" if analysis_failures(session) > failures_before else None
    outcome = await wait_until(final, what="final diagnostics")
    await session.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(session.doc(uris[0])))
    return outcome == "done"


def gopc_crashes(root: Path) -> bool:
    """`gopc check` itself fails on the text (a compiler bug, reported elsewhere): nothing to compare with."""
    result = subprocess.run([sys.executable, "-m", "gop.compiler.cli", "check", "--format", "json", "."],
                            cwd=root, capture_output=True, text=True, timeout=120)
    return result.returncode not in (0, 1)


async def run_sequence(session: Session, originals: dict[str, str], steps) -> int:
    """Apply the steps; returns the count of compiler crashes the server had logged before."""
    failures_before = analysis_failures(session)
    uris = [session.uri(name) for name in FILES]
    for uri in uris:
        if session.texts[uri] != originals[uri]:
            session.change(uri, originals[uri])
    for file, where, length, text, kind in steps:
        uri = uris[file]
        size = len(session.texts[uri])
        start = int(where * size)
        range_edit(session, uri, start, min(size, start + length), text)
        if kind is not None:
            await request(session, kind, uri, min(start + len(text), len(session.texts[uri])))
    return failures_before


async def check_final_state(session: Session, root: Path, failures_before: int) -> None:
    """The published diagnostics equal `gopc check`'s; where the compiler itself crashes on the
    text (then `gopc check` reports an internal error and the server keeps its last diagnostics),
    the server must still answer."""
    session.write_all()
    uris = [session.uri(name) for name in FILES]
    if gopc_crashes(root) or not await settle(session, uris, failures_before):
        await request(session, "symbols", uris[0], 0)
        return
    assert comparable_lsp(session.client.published, session.texts) == comparable_check(root)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "shop"
    shutil.copytree(REPO / "examples" / "shop", root)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    session = loop.run_until_complete(Session.start(root))
    originals = {session.uri(name): (root / name).read_text() for name in FILES}
    for name in FILES:
        session.open(name)
    yield loop, session, root, originals
    loop.run_until_complete(session.stop())
    loop.close()
    asyncio.set_event_loop(None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=edits())
def test_random_edits_keep_the_server_answering_and_in_step_with_gopc_check(server, steps):
    loop, session, root, originals = server
    failures_before = loop.run_until_complete(run_sequence(session, originals, steps))
    loop.run_until_complete(check_final_state(session, root, failures_before))
    errors = [m.message for m in session.client.log_messages if m.type == lsp.MessageType.Error]
    assert not [e for e in errors if "parsing" not in e and "analysis of" not in e], errors[:1]  # only compiler crashes
