"""The language server's wire robustness: raw bytes in, framed JSON-RPC out.

`RawServer` spawns `gopc lsp`, writes bytes exactly as given (no client library in between, so
malformed messages reach the server as they are) and reads its framed output on a thread.
`MALFORMED` is a catalogue of bad messages; after each one a valid request must be answered
promptly, and the bad one must get exactly the JSON-RPC error it deserves (or, for a notification,
nothing). Other tests: positions far outside the document, requests before `initialize` and after
`shutdown`, and one root's slow analysis not holding up requests on another root or file.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygls.uris import from_fs_path

from gop.lsp.transport import Framer
from test_lsp import REPO, SERVER

ANSWER_SECONDS = 10.0  # generous for a loaded machine; a deaf server never answers at all
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, NOT_INITIALIZED = -32700, -32600, -32601, -32602, -32002


def frame(body: bytes | str | dict) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawServer:
    """`gopc lsp` over pipes; `responses` collects every message that is not a notification."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self._next_id = 1000
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not line or length is None:
                self.messages.put(None)
                return
            self.messages.put(json.loads(stream.read(length)))

    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def fresh_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def next_response(self, timeout: float = ANSWER_SECONDS) -> dict:
        """The next message that is a response (notifications are kept aside)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer within {timeout} s") from None
            assert message is not None, "the server closed its output"
            if "method" in message and "id" not in message:
                self.notifications.append(message)
                continue
            return message

    def responses_until(self, request_id, timeout: float = ANSWER_SECONDS) -> tuple[dict, list[dict]]:
        """The response to `request_id`, and every other response that came before it."""
        others = []
        while (response := self.next_response(timeout))["id"] != request_id or "method" in response:
            others.append(response)
        return response, others

    def request(self, method: str, params, timeout: float = ANSWER_SECONDS) -> tuple[dict, list[dict]]:
        request_id = self.fresh_id()
        self.send(frame({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
        return self.responses_until(request_id, timeout)

    def notify(self, method: str, params) -> None:
        self.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def initialize(self, *roots: Path) -> dict:
        response, _ = self.request("initialize", {
            "processId": None, "rootUri": from_fs_path(str(roots[0])), "capabilities": {},
            "workspaceFolders": [{"uri": from_fs_path(str(root)), "name": root.name} for root in roots],
            "initializationOptions": {"debounceMs": 20}})
        self.notify("initialized", {})
        return response

    def diagnostics(self, uri: str, version: int, timeout: float = ANSWER_SECONDS) -> list[dict]:
        """The diagnostics published for `uri` at `version` (waiting for them at most `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            for note in self.notifications:
                params = note.get("params") or {}
                if note["method"] == "textDocument/publishDiagnostics" and params["uri"] == uri and params.get("version") == version:
                    return params["diagnostics"]
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no diagnostics for {uri} within {timeout} s") from None
            assert message is not None and "id" not in message, message
            self.notifications.append(message)

    def open(self, path: Path) -> str:
        uri = from_fs_path(str(path))
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "gop", "version": 1, "text": path.read_text(encoding="utf-8")}})
        return uri

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()


def error_code(response: dict) -> int | None:
    return response.get("error", {}).get("code") if isinstance(response.get("error"), dict) else None


@pytest.fixture
def raw(shop: Path):
    server = RawServer(SERVER, shop)
    yield server
    server.stop()


def hover_params(uri: str, line: int = 5, character: int = 5) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


# ---- the catalogue of malformed messages ---------------------------------------------------------------
# Each entry: name -> (bytes to send, given the open document's URI and a fresh id; the responses
# the bad message must get: a list of (id, error code)). "ID" stands for the fresh id.

ID = object()


def _request(uri: str, request_id, **changes) -> dict:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "textDocument/hover", "params": hover_params(uri)}
    message.update(changes)
    return {k: v for k, v in message.items() if v is not _DROP}


_DROP = object()


def _hover(uri: str, request_id, **changes) -> bytes:
    return frame(_request(uri, request_id, **changes))


def _body(uri: str, request_id) -> bytes:
    return json.dumps(_request(uri, request_id)).encode()


MALFORMED = {
    # framing
    "no Content-Length header": (lambda u, i: b"Content-Type: application/json\r\n\r\n" + _body(u, i), [(None, PARSE_ERROR)]),
    "non-numeric Content-Length": (lambda u, i: b"Content-Length: twelve\r\n\r\n" + _body(u, i), [(None, PARSE_ERROR)]),
    "negative Content-Length": (lambda u, i: b"Content-Length: -5\r\n\r\n" + _body(u, i), [(None, PARSE_ERROR)]),
    "huge Content-Length": (lambda u, i: b"Content-Length: 99999999999999999999\r\n\r\n" + _body(u, i), [(None, PARSE_ERROR)]),
    "Content-Length too long": (lambda u, i: b"Content-Length: %d\r\n\r\n" % (len(_body(u, i)) + 40) + _body(u, i),
                                [(ID, INVALID_REQUEST)]),
    "Content-Length too short": (lambda u, i: b"Content-Length: %d\r\n\r\n" % (len(_body(u, i)) - 7) + _body(u, i),
                                 [(ID, INVALID_REQUEST)]),
    "Content-Length zero": (lambda u, i: b"Content-Length: 0\r\n\r\n", [(None, PARSE_ERROR)]),
    "truncated body, then a valid message": (lambda u, i: b"Content-Length: %d\r\n\r\n" % len(_body(u, i)) + _body(u, i)[:30],
                                             [(None, PARSE_ERROR)]),
    "conflicting Content-Length headers": (
        lambda u, i: b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(_body(u, i)) + _body(u, i),
        [(None, PARSE_ERROR), (ID, INVALID_REQUEST)]),  # resumed at the second header: its length is too short
    "a header cut short before a whole one": (lambda u, i: b"Content-Len" + _hover(u, i), [(None, PARSE_ERROR), (ID, None)]),
    "CR-only line endings": (lambda u, i: b"Content-Length: %d\r\r" % len(_body(u, i)) + _body(u, i), [(None, PARSE_ERROR)]),
    "Content-Length with a plus sign": (lambda u, i: b"Content-Length: +%d\r\n\r\n" % len(_body(u, i)) + _body(u, i), [(None, PARSE_ERROR)]),
    "header line without a colon": (lambda u, i: b"Content-Length 10\r\n\r\n" + _body(u, i), [(None, PARSE_ERROR)]),
    "garbage line before the header": (lambda u, i: b"hello there\r\n" + _hover(u, i), [(None, PARSE_ERROR), (ID, None)]),
    "a 100 kB header line": (lambda u, i: b"X" * 100_000 + b"\r\n" + _hover(u, i), [(None, PARSE_ERROR), (ID, None)]),
    "body that is not UTF-8": (lambda u, i: frame(_body(u, i).replace(b"textDocument/hover", b"textDocument/hov\xff\xfe")), [(None, PARSE_ERROR)]),
    # lenient framing that must simply work
    "extra headers": (lambda u, i: b"X-Trace: 1\r\nContent-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
                      % len(_body(u, i)) + _body(u, i), [(ID, None)]),
    "leading zeros and trailing blanks in Content-Length": (
        lambda u, i: b"Content-Length: 000%d \t\r\n\r\n" % len(_body(u, i)) + _body(u, i), [(ID, None)]),
    "lower-case header name, no space": (lambda u, i: b"content-length:%d\r\n\r\n" % len(_body(u, i)) + _body(u, i), [(ID, None)]),
    "LF line endings": (lambda u, i: b"Content-Length: %d\n\n" % len(_body(u, i)) + _body(u, i), [(ID, None)]),
    "blank lines between messages": (lambda u, i: b"\r\n\r\n" + _hover(u, i), [(ID, None)]),
    # JSON
    "invalid JSON": (lambda u, i: frame(b'{"jsonrpc": "2.0", "id": %d, "method": ' % i), [(None, PARSE_ERROR)]),
    "deeply nested JSON": (lambda u, i: frame(b"[" * 200_000 + b"]" * 200_000), [(None, PARSE_ERROR)]),
    "a number with 5000 digits": (lambda u, i: frame(b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b"}"), [(None, PARSE_ERROR)]),
    "batch array": (lambda u, i: frame(b"[" + _body(u, i) + b"]"), [(None, INVALID_REQUEST)]),
    "empty array": (lambda u, i: frame(b"[]"), [(None, INVALID_REQUEST)]),
    "JSON number": (lambda u, i: frame(b"42"), [(None, INVALID_REQUEST)]),
    "JSON string": (lambda u, i: frame(b'"hello"'), [(None, INVALID_REQUEST)]),
    "JSON null": (lambda u, i: frame(b"null"), [(None, INVALID_REQUEST)]),
    # JSON-RPC
    "missing jsonrpc": (lambda u, i: _hover(u, i, jsonrpc=_DROP), [(ID, INVALID_REQUEST)]),
    "jsonrpc 1.0": (lambda u, i: _hover(u, i, jsonrpc="1.0"), [(ID, INVALID_REQUEST)]),
    "missing method": (lambda u, i: _hover(u, i, method=_DROP, params=_DROP), [(ID, INVALID_REQUEST)]),
    "method not a string": (lambda u, i: _hover(u, i, method=42), [(ID, INVALID_REQUEST)]),
    "id an object": (lambda u, i: _hover(u, i, id={"n": i}), [(None, INVALID_REQUEST)]),
    "id a fraction": (lambda u, i: _hover(u, i, id=i + 0.5), [(None, INVALID_REQUEST)]),
    "id true": (lambda u, i: _hover(u, i, id=True), [(None, INVALID_REQUEST)]),
    "request with a null id": (lambda u, i: _hover(u, i, id=None), [(None, INVALID_REQUEST)]),
    "unknown request": (lambda u, i: _hover(u, i, method="gop/nonsense"), [(ID, METHOD_NOT_FOUND)]),
    "unknown $/ request": (lambda u, i: _hover(u, i, method="$/nonsense"), [(ID, METHOD_NOT_FOUND)]),
    "unknown notification": (lambda u, i: _hover(u, i, id=_DROP, method="$/nonsense"), []),
    "params null": (lambda u, i: _hover(u, i, params=None), [(ID, INVALID_PARAMS)]),
    "params a string": (lambda u, i: _hover(u, i, params="here"), [(ID, INVALID_PARAMS)]),
    "params missing a field": (lambda u, i: _hover(u, i, params={"textDocument": {"uri": u}}), [(ID, INVALID_PARAMS)]),
    "position of the wrong type": (lambda u, i: _hover(u, i, params={"textDocument": {"uri": u}, "position": [1, 2]}),
                                   [(ID, INVALID_PARAMS)]),
    "params with a nested jsonrpc key": (lambda u, i: _hover(u, i, params={**hover_params(u), "jsonrpc": "2.0", "x": {"jsonrpc": "2.0", "id": 1}}),
                                         [(ID, None)]),
    "notification sent with an id": (lambda u, i: _hover(u, i, method="textDocument/didSave", params={"textDocument": {"uri": u}}),
                                      [(ID, INVALID_REQUEST)]),
    "request sent without an id": (lambda u, i: _hover(u, i, id=_DROP), []),
    "notification with bad params": (lambda u, i: frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"x": 1}}), []),
    "cancel of an unknown request": (lambda u, i: frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 123456}}), []),
    "cancel without params": (lambda u, i: frame({"jsonrpc": "2.0", "method": "$/cancelRequest"}), []),
    "response to nothing": (lambda u, i: frame({"jsonrpc": "2.0", "id": "nobody-asked", "result": 1}), []),
    "second initialize": (lambda u, i: _hover(u, i, method="initialize", params={"processId": None, "rootUri": None, "capabilities": {}}),
                          [(ID, INVALID_REQUEST)]),
    "change of a document never opened": (lambda u, i: frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": u + "-never-opened.gop", "version": 2}, "contentChanges": [{"text": "app x {}"}]}}), []),
}


# ---- framing, in process ------------------------------------------------------------------------------------

# Bodies that could fool a framer: header text inside strings, raw line breaks between tokens, non-ASCII text.
TRICKY_MESSAGES = [
    {"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"x": "Content-Length: 12\r\n\r\n{}"}},
    {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"text": "é😀 \nContent-Length: 5\n"}},
    {"jsonrpc": "2.0", "id": "a", "result": [1, 2, {"Content-Length": 3}]},
    {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
]


def _encodings(message: dict) -> list[bytes]:
    return [json.dumps(message).encode(), json.dumps(message, indent=1).replace("\n", "\r\n").encode(),
            json.dumps(message, ensure_ascii=False, indent="\t").encode()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(len(TRICKY_MESSAGES))), st.sampled_from(range(3))), min_size=1, max_size=6),
       st.lists(st.integers(1, 40), max_size=60))
def test_valid_messages_are_framed_however_the_stream_is_cut(picks, cuts):
    messages = [TRICKY_MESSAGES[m] for m, _ in picks]
    stream = b"".join(frame(_encodings(TRICKY_MESSAGES[m])[e]) for m, e in picks)
    framer, frames, position = Framer(), [], 0
    for size in [*cuts, len(stream)]:
        frames += framer.feed(stream[position:position + size])
        position += size
    assert [(f.message, f.problem) for f in frames] == [(m, None) for m in messages]


JUNK = [b"Content-Length: 900\r\n\r\n{", b"Content-Length: 3\r\n\r\n", b"Content-Length:1\n\n", b"Content-Len", b"\r\n",
        b"Content-Length: x\r\n", b"X: y\r\n", b'{"jsonrpc": "2.0", "id": 1}', b"\xff\xfe"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=30) | st.sampled_from(JUNK), max_size=4), st.integers(1, 30))
def test_a_valid_message_after_any_junk_is_framed(junk, chunk):
    message = TRICKY_MESSAGES[0]
    stream = b"".join(junk) + frame(message)
    framer, frames = Framer(), []
    for position in range(0, len(stream), chunk):
        frames += framer.feed(stream[position:position + chunk])
    assert frames and (frames[-1].message, frames[-1].problem) == (message, None)


@pytest.fixture
def serving(raw: RawServer, shop: Path):
    """An initialized server with apps.gop open and analysed."""
    raw.initialize(shop)
    uri = raw.open(shop / "apps.gop")
    response, _ = raw.request("textDocument/hover", hover_params(uri))
    assert "result" in response
    return raw, uri


def test_malformed_messages_are_answered_and_never_deafen_the_server(serving):
    raw, uri = serving
    failures = []
    for name, (make, expected) in MALFORMED.items():
        bad_id = raw.fresh_id()
        raw.send(make(uri, bad_id))
        check_id = raw.fresh_id()
        raw.send(frame(_request(uri, check_id)))
        try:
            response, others = raw.responses_until(check_id)
        except AssertionError as error:
            failures.append(f"{name}: the next valid request was not answered ({error})")
            break  # the server is deaf: the rest would only repeat it
        got = [(bad_id if other.get("id") == bad_id else other.get("id"), error_code(other)) for other in others]
        want = [(bad_id if who is ID else who, code) for who, code in expected]
        if "result" not in response or got != want:
            failures.append(f"{name}: expected {want}, got {got} then {response}")
    assert not failures, "\n".join(failures)
    assert raw.process.poll() is None


# ---- positions outside the document -----------------------------------------------------------------------

FAR = 2**40


def test_positions_far_outside_the_document_are_clamped_to_it(serving, shop: Path):
    raw, uri = serving
    lines = (shop / "apps.gop").read_text(encoding="utf-8").split("\n")
    host_line = next(n for n, line in enumerate(lines) if line == "    host = domain")
    doc = {"textDocument": {"uri": uri}}
    for line, character in ((FAR, 0), (0, FAR), (FAR, FAR), (-1, -1), (-FAR, 3), (3, -FAR)):
        position = {"line": line, "character": character}
        whole = {"start": {"line": -FAR, "character": 0}, "end": position}
        for method, params in (
            ("textDocument/hover", {**doc, "position": position}),
            ("textDocument/completion", {**doc, "position": position}),
            ("textDocument/signatureHelp", {**doc, "position": position}),
            ("textDocument/definition", {**doc, "position": position}),
            ("textDocument/references", {**doc, "position": position, "context": {"includeDeclaration": True}}),
            ("textDocument/documentHighlight", {**doc, "position": position}),
            ("textDocument/prepareRename", {**doc, "position": position}),
            ("textDocument/inlayHint", {**doc, "range": whole}),
            ("textDocument/codeAction", {**doc, "range": whole, "context": {"diagnostics": []}}),
        ):
            response, others = raw.request(method, params)
            assert others == [] and "result" in response or error_code(response) == -32803, (method, position, response)
    # A character past the end of a line is the end of that line: `domain` there, as at its last letter.
    at_end = raw.request("textDocument/definition", {**doc, "position": {"line": host_line, "character": len(lines[host_line]) - 1}})[0]
    past_end = raw.request("textDocument/definition", {**doc, "position": {"line": host_line, "character": FAR}})[0]
    assert at_end["result"] and past_end["result"] == at_end["result"]
    # A line before the start is the first line: `package shop` at its first character.
    assert raw.request("textDocument/documentHighlight", {**doc, "position": {"line": -FAR, "character": -1}})[0]["result"] == \
        raw.request("textDocument/documentHighlight", {**doc, "position": {"line": 0, "character": 0}})[0]["result"]


def test_an_edit_past_the_end_of_a_document_appends_to_it(serving, shop: Path):
    raw, uri = serving
    text = (shop / "apps.gop").read_text(encoding="utf-8")
    far = {"line": FAR, "character": FAR}
    raw.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                          "contentChanges": [{"range": {"start": far, "end": far}, "text": "\napp zz {}\n"}]})
    symbols, _ = raw.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    lines = {symbol["name"]: symbol["range"]["start"]["line"] for symbol in symbols["result"]}
    assert lines["zz"] == text.count("\n") + 1 and lines["checkout"] < lines["zz"]


# ---- lifecycle ---------------------------------------------------------------------------------------------


def test_requests_before_initialize_and_after_shutdown_get_the_protocols_errors(raw: RawServer, shop: Path):
    apps = from_fs_path(str(shop / "apps.gop"))
    early, others = raw.request("textDocument/hover", hover_params(apps))
    assert others == [] and error_code(early) == NOT_INITIALIZED
    raw.open(shop / "apps.gop")  # a notification before initialize is dropped
    early_shutdown, _ = raw.request("shutdown", None)
    assert error_code(early_shutdown) == NOT_INITIALIZED
    initialized = raw.initialize(shop)
    assert "capabilities" in initialized["result"]
    response, others = raw.request("textDocument/hover", hover_params(apps))
    assert others == [] and "result" in response
    assert raw.request("shutdown", None)[0] == {"jsonrpc": "2.0", "id": raw._next_id, "result": None}
    late, _ = raw.request("textDocument/hover", hover_params(apps))
    assert error_code(late) == INVALID_REQUEST
    raw.notify("exit", None)
    assert raw.process.wait(timeout=ANSWER_SECONDS) == 0


# ---- one slow analysis holds up nothing else ---------------------------------------------------------------

# `gopc lsp` whose analyses of a root named `slow`, or of texts that contain `// SLOW`, take a minute.
SLOW_SERVER = [sys.executable, "-c", """
import sys, time
from pathlib import Path
import gop.lsp.project as project
from gop.lsp.server import main
analyse = project.analyse
def slow_analyse(paths, overlays, **options):
    if any(Path(p).name == "slow" for p in paths) or any("// SLOW" in text for text in overlays.values()):
        time.sleep(60)
    return analyse(paths, overlays, **options)
project.analyse = slow_analyse
sys.exit(main())
"""]


@pytest.fixture
def slow_server(tmp_path: Path):
    server = RawServer(SLOW_SERVER, tmp_path)
    yield server
    server.stop()


def test_a_slow_root_does_not_hold_up_another(slow_server: RawServer, tmp_path: Path):
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    for root in (slow, fast):
        shutil.copytree(REPO / "examples" / "shop", root)
    slow_server.initialize(slow, fast)  # both roots are analysed at once: the slow one first
    uri = slow_server.open(fast / "apps.gop")
    assert slow_server.diagnostics(uri, 1) == []
    hover, _ = slow_server.request("textDocument/hover", hover_params(uri))
    assert "app checkout" in hover["result"]["contents"]["value"]


def test_a_code_action_does_not_wait_for_the_analysis_of_another_files_edit(slow_server: RawServer, shop: Path):
    apps, envs = shop / "apps.gop", shop / "envs.gop"
    apps.write_text(apps.read_text(encoding="utf-8").replace("replicas = 3", "replicsa = 3", 1), encoding="utf-8")
    slow_server.initialize(shop)
    apps_uri, envs_uri = slow_server.open(apps), slow_server.open(envs)
    [typo] = slow_server.diagnostics(apps_uri, 1)
    slow_server.notify("textDocument/didChange", {"textDocument": {"uri": envs_uri, "version": 2},
                                                  "contentChanges": [{"text": "// SLOW\n" + envs.read_text(encoding="utf-8")}]})
    time.sleep(0.5)  # past the debounce: the slow analysis is running
    started = time.monotonic()
    actions, _ = slow_server.request("textDocument/codeAction", {
        "textDocument": {"uri": apps_uri}, "range": typo["range"], "context": {"diagnostics": [typo]}})
    assert time.monotonic() - started < 3.0  # the server's settle timeout is 5 s
    assert [action["title"] for action in actions["result"]] == ["change to `replicas`"]
