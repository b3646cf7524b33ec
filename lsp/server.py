"""The language server (`gopc lsp`): a thin protocol layer over cached analyses.

Input: LSP messages on stdin. Output: responses and notifications on stdout.
State: the open buffers (kept by pygls), one `Project` per program root with
its snapshots (`project`), a parse cache shared by all, and the materialised
standard library (`convert.Paths`).

Requests are answered from the buffer's current text (parsed through the cache)
and the project's last good snapshot, by the compiler's symbol table
(`gop.compiler.semantic.symbols`), so completion and hover never wait for an
analysis; this module only converts positions, spans and answers. Code actions wait (briefly) for the analysis
of the current text of their file, because fixes carry offsets into it (not for
one that only another file's edit started). The wire itself (framing, malformed
messages, requests before `initialize`) is `transport`'s.

Invariants: every handler is guarded: an internal error is logged with
window/logMessage and the request answered with an empty result, so the server
never dies of a bug in a feature; user mistakes that a request cannot honour
(an unsafe rename) are answered with an error the editor shows.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import logging
import sys
import threading
import traceback
from pathlib import Path

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.server import LanguageServer, StdOutTransportAdapter
from pygls.uris import to_fs_path

from gop.compiler.syntax import ast
from gop.compiler import gopc_version
from gop.compiler.semantic.loader import is_std_file
from gop.compiler.semantic.symbols import Occurrence, RenameRefused, SymbolTable, completions_at, signature_at
from gop.compiler.core.collector import collect_as
from gop.compiler.core.diskcache import open_disk_cache
from gop.compiler.core.span import SourceFile, Span

from . import complete, convert, hover, tokens
from .project import Buffer, Host, ParseCache, Project, Snapshot, project_root
from .transport import GopProtocol, read_stream

DEBOUNCE_SECONDS = 0.05
SETTLE_TIMEOUT_SECONDS = 5.0


class RequestFailed(JsonRpcException):
    """A request the server understood but cannot carry out; the message is for the user."""

    CODE = -32803
    MESSAGE = "request failed"


class View:
    """One buffer as a request sees it: current text and tree, and the snapshot to answer from."""

    def __init__(self, server: GopServer, uri: str) -> None:
        self.uri = uri
        self.key = server.paths.key(uri) or uri
        self.project = server.project_for(uri)
        self.text = server.current_text(uri, self.key)
        self.snapshot: Snapshot | None = self.project.serving(uri) if self.project else None
        self.symbols: SymbolTable | None = self.snapshot.symbols if self.snapshot else None
        try:
            self.tree, self.source = server.parses.file(self.key, self.text)
        except Exception as error:  # a parser bug: answer from the last analysed tree of this file
            server.log_error(f"parsing {self.key}", error)
            analysed = self.symbols.program.files.get(self.key) if self.symbols else None
            self.tree = analysed or ast.File(Span(self.key, 0, 0), ())
            self.source = SourceFile(self.key, self.text)

    def offset(self, position: lsp.Position) -> int:
        return convert.offset(self.source, position)

    def occurrence(self, position: lsp.Position) -> Occurrence | None:
        return self.symbols.at(self.key, self.tree, self.offset(position)) if self.symbols else None

    def range_of(self, span: Span) -> lsp.Range:
        return convert.range_of(self.source, span.start, span.end)


class GopServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("gopc", gopc_version(), protocol_cls=GopProtocol)
        self.paths = convert.Paths()
        self.parses = ParseCache(disk=open_disk_cache())  # the workspace's trees, kept by earlier runs
        self.projects: dict[Path, Project] = {}
        self.folders: list[Path] = []
        self.debounce = DEBOUNCE_SECONDS
        self.host = Host(self.paths, self.buffers_under, self.publish, self.analysis_failed, self.parses)
        self._told: set[str] = set()

    def start_io(self, stdin=None, stdout=None) -> None:
        """pygls's `start_io` with this package's reader (`transport`): it survives malformed messages."""
        self._stop_event = threading.Event()
        self.lsp.connection_made(StdOutTransportAdapter(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer))
        try:
            self.loop.run_until_complete(read_stream(self.lsp, stdin or sys.stdin.buffer, self.thread_pool_executor, self._stop_event))
        except BrokenPipeError:
            pass  # the client went away
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    # ---- logging and guards ----------------------------------------------------------

    def log_error(self, what: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        try:
            self.show_message_log(f"gopc lsp: {what}: {type(error).__name__}: {error}\n{detail}", lsp.MessageType.Error)
        except Exception:  # the transport itself is gone; stderr is all that is left
            print(f"gopc lsp: {what}: {error}", file=sys.stderr)

    def analysis_failed(self, project: Project, error: BaseException) -> None:
        """A compiler crash: logged each time, shown to the user once per kind (diagnostics are now stale)."""
        self.log_error(f"analysis of {project.root} failed", error)
        message = f"gopc: internal error while checking {project.root.name}: {type(error).__name__}: {error}"
        if message not in self._told:
            self._told.add(message)
            self.show_message(message + " (diagnostics may be out of date; please report it)", lsp.MessageType.Error)

    def guarded(self, method: str, options=None, empty=None):
        """Register a handler that never lets an internal error escape (see the module doc)."""

        def register(function):
            if asyncio.iscoroutinefunction(function):
                @functools.wraps(function)
                async def handler(params):
                    try:
                        return await function(params)
                    except RequestFailed:
                        raise
                    except Exception as error:
                        self.log_error(method, error)
                        return empty
            else:
                @functools.wraps(function)
                def handler(params):
                    try:
                        return function(params)
                    except RequestFailed:
                        raise
                    except Exception as error:
                        self.log_error(method, error)
                        return empty
            self.feature(method, options)(handler)
            return function

        return register

    # ---- buffers and projects -----------------------------------------------------------

    def current_text(self, uri: str, key: str) -> str:
        document = self.workspace.text_documents.get(uri)
        if document is not None:
            return document.source
        if is_std_file(key):
            return importlib.resources.files("gop.stdlib").joinpath(Path(key).name).read_text(encoding="utf-8")
        try:
            return Path(to_fs_path(uri)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, TypeError):
            return ""

    def project_for(self, uri: str) -> Project | None:
        key = self.paths.key(uri)
        if key is None:
            return None
        if is_std_file(key):
            return next((p for p in self.projects.values() if p.latest is not None), None)
        root = project_root(Path(to_fs_path(uri)).resolve(), self.folders)
        project = self.projects.get(root)
        if project is None:
            project = self.projects[root] = Project(root, self.host)
        return project

    def buffers_under(self, root: Path) -> list[Buffer]:
        buffers = []
        for uri, document in list(self.workspace.text_documents.items()):
            if not uri.startswith("file:") or self.paths.is_std_uri(uri):
                continue
            path = Path(to_fs_path(uri)).resolve()
            if root in path.parents and path.suffix == ".gop":
                buffers.append(Buffer(uri, path, self.paths.key(uri), document.source, document.version))
        return buffers

    def publish(self, project: Project, snapshot: Snapshot) -> None:
        sources = snapshot.analysis.program.sources
        self.show_message_log(f"gopc lsp: analysed {project.root}: {len(sources)} files, "
                              f"{len(snapshot.analysis.diagnostics)} diagnostics in {snapshot.seconds * 1000:.0f} ms")
        converted = {uri: [convert.diagnostic(d, self.paths, sources) for d in items]
                     for uri, items in project.diagnostics_by_uri(snapshot).items()}
        for uri in snapshot.versions:  # open buffers always hear about the version analysed, even when clean
            converted.setdefault(uri, [])
        for uri, items, version in project.to_publish(converted, snapshot.versions):
            self.publish_diagnostics(uri, items, version)

    def changed(self, uri: str, delay: float, *, buffers_only: bool = False) -> None:
        if self.paths.is_std_uri(uri):
            return
        project = self.project_for(uri)
        if project is not None:
            project.changed(delay, buffers_only=buffers_only)

    def saw_current_text(self, snapshot: Snapshot, uri: str) -> bool:
        """Whether `snapshot` analysed the current text of `uri` (fixes carry offsets into it)."""
        document = self.workspace.text_documents.get(uri)
        return document is None or snapshot.versions.get(uri) == document.version

    def files_of(self, symbols: SymbolTable) -> dict[str, tuple]:
        """Every file of a snapshot's program as it is now: key -> (uri, tree, source)."""
        files = {key: (self.paths.uri(key), tree, symbols.program.sources[key]) for key, tree in symbols.program.files.items()}
        for uri, document in list(self.workspace.text_documents.items()):
            key = self.paths.key(uri)
            if key in files and not is_std_file(key):
                files[key] = (uri, *self.parses.file(key, document.source))
        return files


server = GopServer()


# ---- lifecycle and synchronisation ------------------------------------------------------------


@server.guarded(lsp.INITIALIZE)
def initialize(params: lsp.InitializeParams):
    folders = [f.uri for f in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
    server.folders = [Path(to_fs_path(uri)).resolve() for uri in folders if uri and uri.startswith("file:")]
    options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
    if isinstance(options.get("debounceMs"), (int, float)):
        server.debounce = max(0.0, options["debounceMs"] / 1000)


@server.guarded(lsp.INITIALIZED)
def initialized(params: lsp.InitializedParams):
    for folder in server.folders:
        if folder.is_dir() and any(folder.glob("*.gop")):
            project = server.projects.setdefault(folder, Project(folder, server.host))
            project.changed(0)


@server.guarded(lsp.SHUTDOWN)
def shutdown(params):
    server.parses.write_pending()  # before the reply: a client may end the process right after it


@server.guarded(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(params: lsp.DidOpenTextDocumentParams):
    server.changed(params.text_document.uri, 0, buffers_only=True)


@server.guarded(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(params: lsp.DidChangeTextDocumentParams):
    server.changed(params.text_document.uri, server.debounce, buffers_only=True)


@server.guarded(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(params: lsp.DidSaveTextDocumentParams):
    server.changed(params.text_document.uri, 0)


@server.guarded(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(params: lsp.DidCloseTextDocumentParams):
    project = server.project_for(params.text_document.uri)
    if project is not None:
        project.forget(params.text_document.uri)
    server.changed(params.text_document.uri, 0)


@server.guarded(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(params: lsp.DidChangeWatchedFilesParams):
    for project in server.projects.values():
        project.changed(server.debounce)


# ---- completion, signatures, hover ---------------------------------------------------------------


@server.guarded(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "=", ":", '"', "[", "("]),
                empty=lsp.CompletionList(is_incomplete=False, items=[]))
def completion(params: lsp.CompletionParams):
    view = View(server, params.text_document.uri)
    offset = view.offset(params.position)
    word_start, completions = completions_at(view.symbols, view.key, view.tree, view.text, offset)
    word_range = convert.range_of(view.source, word_start, offset)
    return lsp.CompletionList(is_incomplete=False, items=[complete.item(c, word_range) for c in completions])


@server.guarded(lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","]))
def signature_help(params: lsp.SignatureHelpParams):
    view = View(server, params.text_document.uri)
    signature = signature_at(view.text, view.offset(params.position))
    return complete.signature_help(signature) if signature is not None else None


@server.guarded(lsp.TEXT_DOCUMENT_HOVER)
def hover_request(params: lsp.HoverParams):
    view = View(server, params.text_document.uri)
    occurrence = view.occurrence(params.position)
    if occurrence is None:
        return None
    text = hover.hover_markdown(view.snapshot, occurrence, view.project.root)
    if text is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=convert.range_of(view.source, occurrence.span.start, occurrence.span.end))


# ---- definitions, references, rename ----------------------------------------------------------------


@server.guarded(lsp.TEXT_DOCUMENT_DEFINITION, empty=[])
def definition(params: lsp.DefinitionParams):
    view = View(server, params.text_document.uri)
    if view.symbols is None:
        return []
    locations = []
    for span in view.symbols.definitions_at(view.key, view.tree, view.offset(params.position)):
        if span.file == view.key:  # this buffer: the position in its current text
            locations.append(lsp.Location(uri=view.uri, range=view.range_of(span)))
            continue
        where = convert.location(server.paths, view.symbols.program.sources, span)
        if where is not None:
            locations.append(where)
    return locations


def _current_files(view: View) -> tuple[dict[str, ast.File], dict[str, tuple]]:
    """The program's files as they are now: key -> tree (for the symbol table), key -> (uri, tree, source)."""
    files = server.files_of(view.symbols)
    files[view.key] = (view.uri, view.tree, view.source)
    return {key: tree for key, (_, tree, _) in files.items()}, files


@server.guarded(lsp.TEXT_DOCUMENT_REFERENCES, empty=[])
def references(params: lsp.ReferenceParams):
    view = View(server, params.text_document.uri)
    if view.symbols is None:
        return []
    trees, files = _current_files(view)
    found = []
    for key, other in view.symbols.references_at(view.key, view.tree, view.offset(params.position), trees):
        if other.definition and not params.context.include_declaration:
            continue
        uri, _, source = files[key]
        found.append(lsp.Location(uri=uri, range=convert.range_of(source, other.span.start, other.span.end)))
    return found


@server.guarded(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT, empty=[])
def document_highlight(params: lsp.DocumentHighlightParams):
    view = View(server, params.text_document.uri)
    if view.symbols is None:
        return []
    return [
        lsp.DocumentHighlight(range=view.range_of(o.span),
                              kind=lsp.DocumentHighlightKind.Write if o.definition else lsp.DocumentHighlightKind.Read)
        for _, o in view.symbols.references_at(view.key, view.tree, view.offset(params.position), {view.key: view.tree})
    ]


@server.guarded(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(params: lsp.PrepareRenameParams):
    view = View(server, params.text_document.uri)
    if view.symbols is None:
        raise RequestFailed("nothing to rename here")
    try:
        occurrence, symbol = view.symbols.renamable(view.key, view.tree, view.offset(params.position))
    except RenameRefused as refused:
        raise RequestFailed(str(refused)) from None
    return lsp.PrepareRenameResult_Type1(range=view.range_of(occurrence.span), placeholder=symbol.short_name)


@server.guarded(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
def rename(params: lsp.RenameParams):
    view = View(server, params.text_document.uri)
    if view.symbols is None:
        raise RequestFailed("nothing to rename here")
    trees, files = _current_files(view)
    try:
        edits = view.symbols.rename(view.key, view.tree, view.offset(params.position), params.new_name, trees)
    except RenameRefused as refused:
        raise RequestFailed(str(refused)) from None
    changes: dict[str, list[lsp.TextEdit]] = {}
    for key, spans in edits.items():
        uri, _, source = files[key]
        changes[uri] = [lsp.TextEdit(range=convert.range_of(source, span.start, span.end), new_text=params.new_name) for span in spans]
    return lsp.WorkspaceEdit(changes=changes)


# ---- outline, tokens, hints -----------------------------------------------------------------------


@server.guarded(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL, empty=[])
def document_symbol(params: lsp.DocumentSymbolParams):
    view = View(server, params.text_document.uri)
    return tokens.document_symbols(view.tree, view.source)


@server.guarded(lsp.WORKSPACE_SYMBOL, empty=[])
def workspace_symbol(params: lsp.WorkspaceSymbolParams):
    found = []
    seen: set[tuple[str, int]] = set()
    for project in list(server.projects.values()):
        if project.latest is None:
            continue
        for key, (uri, tree, source) in server.files_of(project.latest.symbols).items():
            for name, word, kind, span, container in tokens.declarations(project.latest.symbols.occurrences(key, tree)):
                if (key, span.start) in seen or not tokens.matches_query(params.query, name):
                    continue
                seen.add((key, span.start))
                found.append(lsp.SymbolInformation(
                    name=name, kind=kind, container_name=container or word,
                    location=lsp.Location(uri=uri, range=convert.range_of(source, span.start, span.end))))
    return found


@server.guarded(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, tokens.LEGEND, empty=lsp.SemanticTokens(data=[]))
def semantic_tokens(params: lsp.SemanticTokensParams):
    view = View(server, params.text_document.uri)
    occurrences = view.symbols.occurrences(view.key, view.tree) if view.symbols else []
    return lsp.SemanticTokens(data=tokens.semantic_tokens(view.text, view.source, occurrences))


@server.guarded(lsp.TEXT_DOCUMENT_INLAY_HINT, empty=[])
def inlay_hint(params: lsp.InlayHintParams):
    view = View(server, params.text_document.uri)
    if view.snapshot is None:
        return []
    start, end = view.offset(params.range.start), view.offset(params.range.end)
    return [
        lsp.InlayHint(position=convert.position(view.source, offset), label=label, padding_left=True)
        for offset, label in hover.overridden_fields(view.snapshot, view.tree) if start <= offset <= end
    ]


@server.guarded(lsp.TEXT_DOCUMENT_FORMATTING, empty=[])
def formatting(params: lsp.DocumentFormattingParams):
    from gop.compiler.syntax.formatter import format_source  # on first use: the server's start does without it

    view = View(server, params.text_document.uri)
    result = format_source(view.key, view.text)
    if result.text is None or result.text == view.text:
        return []  # a file with syntax errors is never touched
    return [lsp.TextEdit(range=convert.range_of(view.source, 0, len(view.text)), new_text=result.text)]


# ---- code actions -----------------------------------------------------------------------------------


@server.guarded(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]), empty=[])
async def code_action(params: lsp.CodeActionParams):
    uri = params.text_document.uri
    project = server.project_for(uri)
    if project is None:
        return []
    snapshot = project.latest
    if snapshot is None or not server.saw_current_text(snapshot, uri):  # an analysis of another file is not waited for
        snapshot = await project.settled(SETTLE_TIMEOUT_SECONDS)
    key = server.paths.key(uri)
    if snapshot is None or key is None or not server.saw_current_text(snapshot, uri):
        return []
    sources = snapshot.analysis.program.sources
    source = sources.get(key)
    if source is None:
        return []
    start, end = convert.offset(source, params.range.start), convert.offset(source, params.range.end)
    actions = []
    for diag in snapshot.analysis.diagnostics:
        if diag.span.file != key or diag.span.end < start or diag.span.start > end:
            continue
        for fix in diag.fixes:
            fix_source = sources.get(fix.span.file)
            if fix_source is None or not server.saw_current_text(snapshot, server.paths.uri(fix.span.file)):
                continue  # an edit into a text that has changed since would land in the wrong place
            edit = lsp.TextEdit(range=convert.range_of(fix_source, fix.span.start, fix.span.end), new_text=fix.replacement)
            actions.append(lsp.CodeAction(
                title=fix.title, kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[convert.diagnostic(diag, server.paths, sources)],
                is_preferred=len(diag.fixes) == 1,
                edit=lsp.WorkspaceEdit(changes={server.paths.uri(fix.span.file): [edit]}),
            ))
    return actions


def _not_a_refusal(record: logging.LogRecord) -> bool:
    """pygls logs every error response with a traceback; a refused rename is not worth one."""
    return not (record.exc_info and isinstance(record.exc_info[1], RequestFailed))


def main() -> int:
    """Serve the protocol on stdin/stdout until the client says exit."""
    collect_as("server")
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_not_a_refusal)
    server.start_io()
    return 0
