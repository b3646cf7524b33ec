"""Lark's LALR loop with error recovery, for a chunk (or an interpolation) the fast loop declined.

Input: a chunk's text and offset in the file, a start symbol (`chunk` or `expr`), the chunk's
`Builder` and the file's `SyntaxReport`. Output: the start rule's value, or None when the text
cannot be made sense of (reported); every syntax error on the way is reported once, in words.

How errors are survived: on an unexpected token the handler inserts a `Missing` value or the
one token that lets parsing go on (`_INSERTABLE`, in order), or else drops the token; at the end
of the chunk it closes what is left open; an unreadable character is skipped (a run of them
reported once), an unterminated string is reported and skipped to the end of its line. Past
`limits.MAX_RECOVERIES_PER_CHUNK` (or the file's bounds) the chunk is given up.

Lark's loop is driven through its interactive parser, with this parse's own transformer
(`builder.LarkCallbacks`) and post-lexer (`PostLexer`: the `scanner.Layout` rules plus the
bookkeeping recovery reads), so no state is shared between parses.

Invariants: reported spans lie inside the chunk; the loop ends for every text (each recovery
consumes input or inserts a token that lets the parser shift; the step counts are bounded).
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from gop.compiler.diagnostics import codes
from gop.compiler.syntax.builder import Builder, DeferredTransformer, LarkCallbacks
from gop.compiler.syntax.grammar import lark_parser, terminal_literal
from gop.compiler.syntax.limits import MAX_ERRORS_PER_FILE, MAX_RECOVERIES_PER_CHUNK, MAX_RECOVERIES_PER_FILE
from gop.compiler.syntax.report import SyntaxReport
from gop.compiler.syntax.scanner import CLOSING, OPENING, Layout

# Tokens that can start an expression: when one of them is acceptable the parser
# is waiting for a value, which we report as "a value" rather than a token list.
_VALUE_STARTS = {"MISSING", "STRING", "TRIPLE_STRING", "INT", "FLOAT", "UNIT", "TRUE", "FALSE", "LSQB", "LBRACE"}

_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "TRIPLE_STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "UNIT": "a duration or quantity",
    "_NL": "a new line",
    "$END": "the end of the declaration",
    "RESOURCE_KIND": "a declaration keyword",
    "CMP_OP": "`==` or `!=`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "MISSING": "a value",
}

_SEPARATORS = frozenset({"_NL", "COMMA"})

# Preference order when inserting one token lets the parser go on.
_INSERTABLE = ("EQUAL", "RBRACE", "RSQB", "RPAR", "COMMA", "_NL", "COLON", "NAME")


@dataclass
class ChunkState:
    """Per-parse state the post-lexer and the error handler share."""

    text: str
    base: int  # the chunk's offset in the file
    layout: Layout = field(init=False)
    last_end: int = 0  # where the last token other than a newline ends
    tokens_seen: int = 0

    def __post_init__(self) -> None:
        self.layout = Layout(self.text)


class PostLexer:
    """The lexer of one parse by Lark's loop: Lark's contextual lexer, then the layout rules
    (`scanner.Layout`), noting what recovery reads (where the last token ends, how many came)."""

    def __init__(self, lexer, state: ChunkState) -> None:
        self._lexer = lexer  # Lark's contextual lexer
        self._state = state

    def lex(self, lexer_state, parser_state):
        state = self._state
        admits = state.layout.admits
        for token in self._lexer.lex(lexer_state, parser_state):
            if not admits(token):
                continue
            if token.type != "_NL":
                state.last_end = token.end_pos
            state.tokens_seen += 1
            yield token


def parse(state: ChunkState, start: str, builder: Builder, report: SyntaxReport):
    """`state.text` parsed from `start` by Lark's loop, recovering from errors; None when given up."""
    recovery = ErrorHandler(state, report)
    try:
        return _lark_loop(state, start, LarkCallbacks(builder), recovery.on_error)
    except UnexpectedInput as error:
        recovery.report_fatal(error)
        return None


def report_glued(state: ChunkState, report: SyntaxReport) -> None:
    """One error per keyword the chunk's layout found glued to the next word (`letb`)."""
    for token in state.layout.glued:
        at = state.base + token.start_pos
        word = re.match(r"[A-Za-z0-9_-]*", state.text[token.start_pos:]).group()
        report.add(codes.UNEXPECTED_TOKEN, at, at + len(word),
                   f"`{word}` is not a keyword; put a space after `{token.value}`", (f"`{token.value} {word[len(token.value):]}`",))


def _lark_loop(state: ChunkState, start: str, transformer: LarkCallbacks, on_error):
    """What `Lark.parse(text, start, on_error)` does, with this parse's transformer and post-lexer."""
    lark = lark_parser()
    parser = lark.parse_interactive(state.text, start)
    parser.parser_state.parse_conf = _with_callbacks(parser.parser_state.parse_conf, transformer.bind(_deferred_callbacks(lark)))
    thread = parser.lexer_thread
    thread.lexer = PostLexer(thread.lexer.lexer, state)  # Lark's connector to its post-lexer, replaced
    try:
        return parser.resume_parse()
    except UnexpectedInput as first:
        error = first
    while True:
        if isinstance(error, UnexpectedCharacters):
            line_counter = error.interactive_parser.lexer_thread.state.line_ctr
            position = line_counter.char_pos
        if not on_error(error):
            raise error
        if isinstance(error, UnexpectedCharacters) and position == line_counter.char_pos:
            line_counter.feed(state.text[position:position + 1])
        try:
            return error.interactive_parser.resume_parse()
        except UnexpectedToken as again:
            if (isinstance(error, UnexpectedToken) and error.token.type == again.token.type == "$END"
                    and error.interactive_parser == again.interactive_parser):
                raise again  # no progress at the end: given up
            error = again
        except UnexpectedCharacters as again:
            error = again


@functools.cache
def _deferred_callbacks(lark: Lark) -> dict:
    """Lark's reduction callbacks (its tree builder's splicing and `?rule` expansion) around
    `DeferredTransformer`, built once."""
    return lark._parse_tree_builder.create_callback(DeferredTransformer())


def _with_callbacks(parse_conf, callbacks):
    changed = copy.copy(parse_conf)
    changed.callbacks = callbacks
    return changed


# ---- the error handler -------------------------------------------------------------------


class ErrorHandler:
    """Lark's `on_error` for one chunk: reports the error and repairs the parse, or gives up."""

    def __init__(self, state: ChunkState, report: SyntaxReport) -> None:
        self.state = state
        self._report = report
        self._recoveries = 0

    def on_error(self, error: UnexpectedInput) -> bool:
        self._recoveries += 1
        self._report.recoveries += 1
        if (self._report.count >= MAX_ERRORS_PER_FILE or self._recoveries > MAX_RECOVERIES_PER_CHUNK
                or self._report.recoveries > MAX_RECOVERIES_PER_FILE):
            return False
        if isinstance(error, UnexpectedCharacters):
            return self._bad_character(error)
        if isinstance(error, UnexpectedToken):
            return self._bad_token(error)
        return False

    def report_fatal(self, error: UnexpectedInput) -> None:
        position = getattr(error, "pos_in_stream", None) or 0
        if isinstance(error, UnexpectedToken) and error.token.type == "$END":
            position = len(self.state.text)
        if self._report.count == 0 or not self._reported_here():
            at = self.state.base + position
            self._report.add(codes.UNEXPECTED_TOKEN, at, at, "cannot make sense of this declaration")

    def _reported_here(self) -> bool:
        last = self._report.items[-1].span if self._report.items else None
        return last is not None and self.state.base <= last.start <= self.state.base + len(self.state.text)

    # -- characters the lexer cannot read --

    def _bad_character(self, error: UnexpectedCharacters) -> bool:
        text = self.state.text
        position = error.pos_in_stream
        lexer_state = error.interactive_parser.lexer_thread.state
        at = self.state.base + position
        if text[position] == '"':
            line_end = text.find("\n", position)
            line_end = len(text) if line_end == -1 else line_end
            self._report.syntax(
                self.state.tokens_seen, codes.UNTERMINATED_STRING, at, self.state.base + line_end, "this string is not closed before the end of the line",
                ("strings that span lines use triple quotes: \"\"\"...\"\"\"",),
            )
            lexer_state.line_ctr.feed(text[position:line_end])
            parser = error.interactive_parser
            if "MISSING" in parser.accepts():
                parser.feed_token(Token("MISSING", "", start_pos=position, end_pos=line_end))
            return True
        run = _bad_run(text, position)
        shown = text[position]
        self._report.syntax(
            self.state.tokens_seen, codes.UNEXPECTED_CHARACTER, at, at + run, f"unexpected character {_show_char(shown)}",
        )
        lexer_state.line_ctr.feed(text[position : position + run])
        return True

    # -- tokens the parser cannot use --

    def _bad_token(self, error: UnexpectedToken) -> bool:
        token = error.token
        if token.type == "$END":  # Lark places it at the last token's start; we want just after it
            at = self.state.last_end
            token = Token("$END", "", start_pos=at, end_pos=at)
        return self._recover(error.interactive_parser, token)

    def _recover(self, parser, token: Token) -> bool:
        accepts = parser.accepts()
        if token.type == "$END":
            return self._close_unfinished(parser, token, accepts)
        if "MISSING" in accepts:
            self._report_missing_value(token)
            parser.feed_token(_fake("MISSING", token))
            return self._refeed(parser, token)
        glued = token.start_pos > 0 and not self.state.text[token.start_pos - 1].isspace()
        for candidate in _INSERTABLE:
            if glued and candidate in _SEPARATORS:
                continue  # `5x`: a stray tail of the previous token, not the start of a new statement
            if candidate in accepts and _would_accept(parser, _fake(candidate, token), token):
                self._report_unexpected(token, accepts)
                parser.feed_token(_fake(candidate, token))
                parser.feed_token(token)
                return True
        if "EQUAL" in accepts and _would_accept(parser, _fake("EQUAL", token), _fake("MISSING", token), token):
            # `name` alone on a line: take it as `name = <missing>` rather than joining it to the next line
            self._report_unexpected(token, accepts)
            for kind in ("EQUAL", "MISSING"):
                parser.feed_token(_fake(kind, token))
            parser.feed_token(token)
            return True
        self._report_unexpected(token, accepts)
        open_brackets = self.state.layout.open_brackets
        if token.type in OPENING and open_brackets and open_brackets[-1] is token:
            open_brackets.pop()
        return True  # drop the token

    def _refeed(self, parser, token: Token) -> bool:
        try:
            parser.feed_token(token)
        except UnexpectedToken:
            return self._recover(parser, token)
        return True

    def _close_unfinished(self, parser, token: Token, accepts: set[str]) -> bool:
        if "$END" in accepts:
            return True
        open_brackets = self.state.layout.open_brackets
        opener = open_brackets[-1] if open_brackets else None
        if opener is not None and OPENING[opener.type] in accepts:
            start = self.state.base + opener.start_pos
            self._report.add(
                codes.UNCLOSED_BRACKET, start, start + 1, f"this `{opener.value}` is never closed",
                (f"add `{_closing(opener.value)}` at the end of the declaration",),
            )
        elif "MISSING" in accepts:
            self._report_missing_value(token)
        else:
            self._report_unexpected(token, accepts)
        for _ in range(200):
            # One terminal at a time: `accepts()` tries them all, once per bracket left open.
            if _accepts(parser, "$END"):
                return True
            choice = next((c for c in ("MISSING", "RPAR", "RSQB", "RBRACE", "_NL") if _accepts(parser, c)), None)
            if choice is None:
                choice = next((c for c in _INSERTABLE if _accepts(parser, c)), None)
            if choice is None:
                return False
            if choice in CLOSING and open_brackets:
                open_brackets.pop()
            parser.feed_token(_fake(choice, token))
        return False

    def _report_missing_value(self, token: Token) -> None:
        previous = _previous_symbol(self.state.text, token.start_pos)
        after = f" after `{previous}`" if previous else ""
        at = self.state.base + token.start_pos
        self._report.syntax(self.state.tokens_seen, codes.MISSING_VALUE, at, at, f"expected a value{after}")

    def _report_unexpected(self, token: Token, accepts: set[str]) -> None:
        expected = _describe_expected(accepts)
        found = _describe_token(token)
        previous = _previous_symbol(self.state.text, token.start_pos)
        after = f" after `{previous}`" if previous else ""
        start = self.state.base + token.start_pos
        end = self.state.base + max(token.end_pos or token.start_pos, token.start_pos)
        if token.type == "_NL":
            end = start
        self._report.syntax(self.state.tokens_seen, codes.UNEXPECTED_TOKEN, start, end, f"expected {expected}{after}, found {found}")


def _fake(kind: str, at: Token) -> Token:
    value = {"NAME": "_", "MISSING": ""}.get(kind, terminal_literal(kind) or "")
    return Token(kind, value, start_pos=at.start_pos, end_pos=at.start_pos)


def _accepts(parser, kind: str) -> bool:
    """Whether `kind` is in `parser.accepts()`, found the way Lark finds it (a feed without callbacks)."""
    if kind not in parser.choices():
        return False
    trial = parser.copy(deepcopy_values=False)
    trial.parser_state.parse_conf = _with_callbacks(trial.parser_state.parse_conf, {})
    try:
        trial.feed_token(Token(kind, ""))
    except UnexpectedToken:
        return False
    return True


def _would_accept(parser, *tokens: Token) -> bool:
    # The values on the stack are shared, not deep-copied: reductions build new values from
    # them and never change them, and a deep copy costs the whole chunk's tree per attempt.
    trial = parser.copy(deepcopy_values=False)
    try:
        for token in tokens:
            trial.feed_token(token)
    except UnexpectedInput:
        return False
    return True


def _describe_terminal(kind: str) -> str:
    if kind in _TOKEN_WORDS:
        return _TOKEN_WORDS[kind]
    literal = terminal_literal(kind)
    return f"`{literal}`" if literal else kind.lower()


# Continuations that are rarely what the user meant; named only when nothing else fits.
_MINOR = {"DOT", "COLON", "ADD_OP", "MUL_OP", "OPTIONAL", "VBAR", "LPAR", "RANGE", "CMP_OP"}


def _describe_expected(accepts: set[str]) -> str:
    kinds = set(accepts) - {"$END"} if len(accepts) > 1 else set(accepts)
    if kinds - _MINOR:
        kinds -= _MINOR
    if kinds & {"MISSING"}:
        kinds = (kinds - _VALUE_STARTS - {"NAME", "MINUS", "LPAR"}) | {"MISSING"}
    words = sorted({_describe_terminal(k) for k in kinds}, key=lambda w: (w.startswith("a "), w))
    if not words:
        return "nothing more"
    if len(words) > 6:
        words = words[:5] + ["..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Token) -> str:
    if token.type == "_NL":
        return "the end of the line"
    if token.type == "$END":
        return "the end of the declaration"
    value = str(token.value)
    if len(value) > 30:
        value = value[:27] + "..."
    return f"`{value}`"


def _previous_symbol(text: str, position: int) -> str | None:
    """The token-ish word just before `position` on the same logical line, for messages."""
    head = text[max(0, position - 256):position].rstrip(" \t")  # not all the text before each error
    match = re.search(r'(==|!=|[=:,(\[{.]|[A-Za-z_][A-Za-z0-9_-]*|"[^"\n]*")$', head)
    if match is None:
        return None
    word = match.group(1)
    return word if len(word) <= 30 else None


def _bad_run(text: str, position: int) -> int:
    """How many unreadable characters follow at `position` (reported as one error)."""
    run = 1
    while position + run < len(text) and not (text[position + run].isalnum() or text[position + run] in ' \t\n"{}[]()=,.:'):
        run += 1
    return run


def _show_char(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"`{ch}`"
    return f"U+{ord(ch):04X}"


def _closing(opener: str) -> str:
    return {"(": ")", "[": "]", "{": "}"}[opener]
