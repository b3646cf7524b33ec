"""The wire: LSP's base-protocol framing and JSON-RPC checks, robust to whatever a client sends.

Input: the bytes of the client's stream, in chunks of any size. Output: well-formed messages
handed to pygls's dispatch (`JsonRPCProtocol._procedure_handler`), and a JSON-RPC error for every
malformed one. This replaces pygls 1.3's reader, which loses the framing for good after a bad
header or a wrong Content-Length, and drops requests it cannot decode without answering them.

Framing: header lines `Name: value` (names in any case; CRLF, or a bare LF, ends a line), an empty
line, then Content-Length bytes of UTF-8 JSON. Headers other than Content-Length are ignored.
Resynchronisation rests on one marker, a header start: `Content-Length: DIGITS` and a line break.
It never occurs in a valid JSON text (a raw line break cannot be inside a JSON string, and the word
is no JSON token outside one), so it is found wherever it is, even right after a previous body.
- A header block without exactly one decimal Content-Length (at most MAX_BODY_BYTES), or with a
  line that is not a header, is answered with a parse error (-32700, id null). Reading resumes at
  the block's last header start after its first byte (junk, or a header cut short, before a whole
  header), else past the block, skipping everything up to the next header start.
- A header start inside the declared body ends the body there: the length was too long. (A client
  that declares too much and then sends nothing more waits, as it would with any server.)
- A declared body that is not JSON, but is with the bytes up to the next header start: the length
  was too short.
A message whose length was wrong is never executed: a request is answered with -32600 (invalid
request) under its own id, so the client is not left waiting.

Messages: a body that is not UTF-8 or not JSON: -32700, id null. Not an object (a batch, a
number...), no `"jsonrpc": "2.0"`, an id that is not an integer or a string, no method, a method
that is not a string, a notification method sent as a request, or `initialize` sent twice:
-32600 (under the id when there is a valid one). Params that do not fit the method: -32602.
Unknown methods: -32601 for requests, ignored for notifications. Before `initialize`: -32002 for
requests, notifications dropped (except `exit`); after `shutdown`: -32600 for requests.
Positions are clamped into LSP's integer range before decoding (`convert.clamp_positions`).

Invariants: every request with a valid id gets exactly one response; nothing a client sends
raises out of `data_received`, so one bad message never stops the reading.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass

from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol

from . import convert

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
READ_CHUNK_BYTES = 1024 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

# A Content-Length line: never part of a valid JSON text (a raw line break cannot be inside a JSON
# string, and the word is no JSON token outside one), so it marks where a message's header begins.
_HEADER_START = re.compile(rb"content-length[ \t]*:[ \t]*[0-9]+[ \t]*\r?\n", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_LINE = re.compile(rb"([!#-'*+.0-9A-Z^-z|~-]+)[ \t]*:[ \t]*(.*?)[ \t]*", re.DOTALL)
_LEADING_BLANK_LINES = re.compile(rb"(?:\r?\n)+")
_NOTIFICATION_METHODS = frozenset(method for method, types in lsp.METHOD_TO_TYPES.items() if types[1] is None)
_LONGEST_HEADER_START = 64  # resuming a search this far back finds a header start split between two reads


INVALID_JSON = object()  # what `decode` gives for a body that is not UTF-8 JSON


def decode(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return INVALID_JSON


@dataclass(frozen=True, slots=True)
class Frame:
    """One message as framed: its body decoded (or INVALID_JSON), and why the framing was wrong (or None)."""

    message: object
    problem: str | None = None


class BadHeader(Exception):
    """A header block without a usable Content-Length."""


class Framer:
    """Cuts the client's byte stream into frames (see the module doc for the rules)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skipping = False  # after a bad header: dropping bytes until a header starts
        self._scanned = 0  # how far the pending body has been searched for a header start

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while (next_frame := self._next()) is not None:
            frames.append(next_frame)
        return frames

    def _next(self) -> Frame | None:
        buffer = self._buffer
        if self._skipping and not self._skip_junk():
            return None
        blank = _LEADING_BLANK_LINES.match(buffer)
        if blank:
            del buffer[:blank.end()]
        if not buffer:
            return None
        end = _HEADER_END.search(buffer, 0, MAX_HEADER_BYTES)
        if end is None:
            if len(buffer) < MAX_HEADER_BYTES:
                return None  # the header block is not complete yet
            return self._resync(f"a header block longer than {MAX_HEADER_BYTES} bytes", 1)
        try:
            length = _content_length(bytes(buffer[:end.start()]))
        except BadHeader as bad:
            # Junk before a header (or a first one cut short): resume at the block's last Content-Length
            # line, the one next to the body; without one, skip the whole message.
            *_, last = [None, *_HEADER_START.finditer(buffer, 1, end.end())]
            return self._resync(str(bad), last.start() if last else end.end())
        start = end.end()
        searched_from = max(start, self._scanned - _LONGEST_HEADER_START)
        next_header = _HEADER_START.search(buffer, searched_from, min(len(buffer), start + length))
        if next_header is not None:
            return self._shorter_body(start, next_header.start(), length)
        if len(buffer) - start < length:
            self._scanned = len(buffer)
            return None  # the body is not complete yet
        body = bytes(buffer[start:start + length])
        message = decode(body)
        if message is not INVALID_JSON:
            self._consume(start + length)
            return Frame(message)
        return self._unreadable_body(start, length)

    def _shorter_body(self, start: int, end: int, length: int) -> Frame:
        """The body ends at `end`, where the next header starts: the declared length was too long."""
        body = bytes(self._buffer[start:end])
        self._consume(end)
        return Frame(decode(body), f"Content-Length {length} runs past the end of the message ({len(body)} bytes)")

    def _unreadable_body(self, start: int, length: int) -> Frame | None:
        """A declared body that is not JSON: cut short by a header start that begins inside it, or
        longer (JSON with the bytes up to the next header start), or unreadable; None: wait for more."""
        buffer, declared_end = self._buffer, start + length
        cut = _HEADER_START.search(buffer, start, min(len(buffer), declared_end + _LONGEST_HEADER_START))
        if cut is not None and cut.start() < declared_end:
            return self._shorter_body(start, cut.start(), length)
        following = _HEADER_START.search(buffer, declared_end)
        rest_end = following.start() if following else len(buffer)
        if buffer[declared_end:rest_end].strip():
            message = decode(bytes(buffer[start:rest_end]))
            if message is not INVALID_JSON:
                self._consume(rest_end)
                return Frame(message, f"Content-Length {length} is shorter than the message ({rest_end - start} bytes)")
        if following is None and len(buffer) < declared_end + _LONGEST_HEADER_START:
            return None  # a header start that begins inside the body may still be arriving
        # Skip the rest of this message, up to the next header start (which may still be arriving).
        self._consume(declared_end if following is None else rest_end)
        self._skipping = following is None
        return Frame(INVALID_JSON)

    def _consume(self, size: int) -> None:
        del self._buffer[:size]
        self._scanned = 0

    def _resync(self, problem: str, past: int) -> Frame:
        """Report a bad header block; drop `past` bytes, then everything up to the next header start."""
        self._consume(past)
        self._skipping = True
        self._skip_junk()
        return Frame(INVALID_JSON, problem)

    def _skip_junk(self) -> bool:
        """Drop bytes up to the next header start; False when none has arrived yet (a beginning of one is kept)."""
        found = _HEADER_START.search(self._buffer)
        if found is not None:
            del self._buffer[:found.start()]
            self._skipping = False
            return True
        del self._buffer[:max(0, len(self._buffer) - _LONGEST_HEADER_START)]
        return False


def _content_length(header: bytes) -> int:
    """The body length a header block declares (raises BadHeader)."""
    lengths = set()
    for line in header.split(b"\n"):
        line = line.removesuffix(b"\r")
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise BadHeader(f"a header line that is not `Name: value`: {line[:60]!r}")
        if match.group(1).lower() == b"content-length":
            lengths.add(match.group(2))
    if not lengths:
        raise BadHeader("a message without a Content-Length header")
    if len(lengths) > 1:
        raise BadHeader("conflicting Content-Length headers")
    value = lengths.pop()
    if not value.isdigit() or len(value) > 12 or int(value) > MAX_BODY_BYTES:
        raise BadHeader(f"Content-Length {value[:30]!r} is not a byte count up to {MAX_BODY_BYTES}")
    return int(value)


class Rejected(Exception):
    """A message answered with a JSON-RPC error instead of being dispatched (`id` None: unknown or none)."""

    def __init__(self, request_id, code: int, message: str) -> None:
        super().__init__(message)
        self.request_id, self.code = request_id, code


def _valid_id(message: dict):
    request_id = message.get("id")
    return request_id if isinstance(request_id, (int, str)) and not isinstance(request_id, bool) else None


def check(message, initialized: bool, shut_down: bool) -> None:
    """Raise `Rejected` for a decoded body that must not be dispatched (see the module doc)."""
    if not isinstance(message, dict):
        raise Rejected(None, INVALID_REQUEST, f"a message must be a JSON object, not {type(message).__name__}"
                       + (" (batches are not part of LSP)" if isinstance(message, list) else ""))
    request_id = _valid_id(message)
    is_request = "id" in message
    if is_request and request_id is None:
        raise Rejected(None, INVALID_REQUEST, f"an id must be an integer or a string, not {json.dumps(message['id'])[:40]}")
    if message.get("jsonrpc") != "2.0":
        raise Rejected(request_id, INVALID_REQUEST, 'a message must have "jsonrpc": "2.0"')
    if "method" not in message:
        if is_request and ("result" in message or "error" in message):
            return  # the client's response to one of our requests
        raise Rejected(request_id, INVALID_REQUEST, "a message needs a method (or a result or an error)")
    method = message["method"]
    if not isinstance(method, str):
        raise Rejected(request_id, INVALID_REQUEST, "a method must be a string")
    params = message.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        raise Rejected(request_id, INVALID_PARAMS, "params must be an object or an array")
    if not is_request:
        if not initialized and method != lsp.EXIT:
            raise Rejected(None, SERVER_NOT_INITIALIZED, f"{method} before initialize")
        return
    if method in _NOTIFICATION_METHODS:
        raise Rejected(request_id, INVALID_REQUEST, f"{method} is a notification: it takes no id")
    if method == lsp.INITIALIZE and initialized:
        raise Rejected(request_id, INVALID_REQUEST, "initialize was already received")
    if method != lsp.INITIALIZE and not initialized:
        raise Rejected(request_id, SERVER_NOT_INITIALIZED, f"{method} before initialize")
    if shut_down:
        raise Rejected(request_id, INVALID_REQUEST, f"{method} after shutdown")


class GopProtocol(LanguageServerProtocol):
    """pygls's protocol with the framing and message checks of this module in front of its dispatch."""

    def __init__(self, server, converter) -> None:
        super().__init__(server, converter)
        self._framer = Framer()

    def data_received(self, data: bytes) -> None:
        for received in self._framer.feed(data):
            try:
                self._receive(received)
            except Rejected as rejection:
                self._reject(rejection)
            except Exception:  # a bug here must not stop the reading of the next message
                logger.exception("gopc lsp: handling a message failed")

    def _receive(self, received: Frame) -> None:
        message = received.message
        if message is INVALID_JSON:
            raise Rejected(None, PARSE_ERROR, f"unreadable message: {received.problem or 'the body is not UTF-8 JSON'}")
        if received.problem is not None:
            raise Rejected(_valid_id(message) if isinstance(message, dict) else None, INVALID_REQUEST, received.problem)
        check(message, initialized=self._workspace is not None, shut_down=self._shutdown)
        if isinstance(message.get("params"), (dict, list)):
            convert.clamp_positions(message["params"])
        try:
            decoded = self._deserialize_message(message)
        except Exception as error:
            if "method" not in message:  # a response we did not ask for, or cannot read: nobody to answer
                logger.warning("gopc lsp: ignored a response: %s", error.__cause__ or error)
                return
            raise Rejected(_valid_id(message), INVALID_PARAMS,
                           f"invalid params for {message['method']}: {error.__cause__ or error}"[:500]) from None
        self._procedure_handler(decoded)

    def _reject(self, rejection: Rejected) -> None:
        logger.warning("gopc lsp: rejected a message: %s", rejection)
        if rejection.code == SERVER_NOT_INITIALIZED and rejection.request_id is None:
            return  # a notification before initialize is dropped, as the protocol says
        if rejection.request_id is None and rejection.code == INVALID_PARAMS:
            return  # a notification that cannot be decoded: nobody waits for an answer
        self._send_data({"jsonrpc": "2.0", "id": rejection.request_id,
                         "error": {"code": rejection.code, "message": str(rejection)}})


async def read_stream(protocol: GopProtocol, stream, executor, stop) -> None:
    """Feed `stream` to `protocol` chunk by chunk until it ends (or `stop` is set)."""
    loop = asyncio.get_running_loop()
    read = getattr(stream, "read1", stream.read)
    while not stop.is_set():
        data = await loop.run_in_executor(executor, read, READ_CHUNK_BYTES)
        if not data:
            return
        protocol.data_received(data)
