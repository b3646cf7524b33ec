"""End-to-end tests of the language server: the real server over stdio, driven by pytest-lsp.

Every test copies examples/shop to a temporary folder, opens it as the workspace, and
checks one feature. Diagnostics are compared with `gopc check --format json` run on the
same texts (the real CLI, in a subprocess).

The harness (`make_client`, `Session`) is shared with tests/test_lsp_fuzz.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pygls.uris import from_fs_path, to_fs_path
from pytest_lsp import LanguageClient, client_capabilities

from gop.compiler.syntax.formatter import format_source
from gop.compiler.core.span import SourceFile

REPO = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "gop.compiler.cli", "lsp"]  # `gopc lsp`
TIMEOUT = 30.0


# ---- harness ------------------------------------------------------------------------------------


def make_client() -> LanguageClient:
    """A pytest-lsp client that also records the version of each diagnostics notification."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def publish_diagnostics(client: LanguageClient, params: lsp.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published[params.uri] = (params.version, params.diagnostics)

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def log_message(client: LanguageClient, params: lsp.LogMessageParams):
        client.log_messages.append(params)

    @client.feature(lsp.WINDOW_SHOW_MESSAGE)
    def show_message(client: LanguageClient, params):
        client.messages.append(params)

    return client


async def wait_until(predicate, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Session:
    """A started server with the workspace `root` open; tracks the texts and versions of open buffers."""

    def __init__(self, client: LanguageClient, root: Path, initialized: lsp.InitializeResult) -> None:
        self.client = client
        self.capabilities = initialized.capabilities
        self.root = root
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    @classmethod
    async def start(cls, root: Path, options: dict | None = None, cwd: Path | None = None) -> Session:
        """`cwd`: the server's working directory, by default `root` (as editors do; file names in
        notes are relative to it, and it parses ahead the `.gop` files there: `lsp.parse_ahead`)."""
        client = make_client()
        await client.start_io(*SERVER, cwd=cwd or root)
        folder = lsp.WorkspaceFolder(uri=from_fs_path(str(root)), name=root.name)
        initialized = await client.initialize_session(lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), root_uri=folder.uri, workspace_folders=[folder],
            initialization_options=options or {"debounceMs": 20}))
        return cls(client, root, initialized)

    async def stop(self) -> None:
        await self.client.shutdown_session()
        await self.client.stop()

    def uri(self, name: str) -> str:
        return from_fs_path(str(self.root / name))

    def open(self, name: str, text: str | None = None) -> str:
        uri = self.uri(name)
        text = (self.root / name).read_text(encoding="utf-8") if text is None else text
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="gop", version=1, text=text)))
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[lsp.TextDocumentContentChangeEvent_Type2(text=text)]))

    def replace(self, uri: str, old: str, new: str) -> None:
        assert old in self.texts[uri], old
        self.change(uri, self.texts[uri].replace(old, new, 1))

    def position(self, uri: str, needle: str, delta: int = 0) -> lsp.Position:
        """The position `delta` characters into the first occurrence of `needle`."""
        text = self.texts.get(uri) or Path(to_fs_path(uri)).read_text(encoding="utf-8")
        offset = text.index(needle) + delta
        where = SourceFile("x", text).utf16_position(offset)
        return lsp.Position(line=where.line, character=where.column)

    def doc(self, uri: str) -> lsp.TextDocumentIdentifier:
        return lsp.TextDocumentIdentifier(uri=uri)

    async def diagnostics(self, uri: str, predicate=lambda items: True, what: str = "diagnostics") -> list[lsp.Diagnostic]:
        """Wait for diagnostics of `uri` at its current version that satisfy `predicate`."""
        def ready():
            version, items = self.client.published.get(uri, (None, None))
            current = self.versions.get(uri)
            return items is not None and (current is None or version == current) and predicate(items) and (items,)
        return (await wait_until(ready, what=f"{what} of {uri}"))[0]

    def write_all(self) -> None:
        """Save every open buffer to disk (so `gopc check` sees what the server sees)."""
        for uri, text in self.texts.items():
            Path(to_fs_path(uri)).write_text(text, encoding="utf-8")


def gopc_check(root: Path) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "gop.compiler.cli", "check", "--format", "json", "."],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["diagnostics"]


def comparable_check(root: Path) -> set[tuple]:
    """`gopc check` output as (file, code, severity, message, start, end, related, notes)."""
    items = set()
    for d in gopc_check(root):
        related = tuple(sorted((str((root / r["file"]).resolve()), r["start"], r["end"], r["message"]) for r in d["related"]))
        notes = tuple(sorted(d["notes"]))
        items.add((str((root / d["file"]).resolve()), d["code"], d["severity"], d["message"], d["start"], d["end"], related, notes))
    return items


_SEVERITIES = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def comparable_lsp(published: dict[str, tuple], texts: dict[str, str]) -> set[tuple]:
    """LSP diagnostics in the same shape, ranges turned back into character offsets."""
    def offsets(uri: str, range_: lsp.Range) -> tuple[int, int]:
        path = to_fs_path(uri)
        text = texts.get(uri)
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        source = SourceFile(path, text)
        return (source.offset_from_utf16(range_.start.line, range_.start.character),
                source.offset_from_utf16(range_.end.line, range_.end.character))

    items = set()
    for uri, (_, diagnostics) in published.items():
        for d in diagnostics:
            start, end = offsets(uri, d.range)
            related, notes = [], []
            for info in d.related_information or []:
                if info.message.startswith("note: ") and info.location.uri == uri and info.location.range == d.range:
                    notes.append(info.message[len("note: "):])
                else:
                    r_start, r_end = offsets(info.location.uri, info.location.range)
                    related.append((str(Path(to_fs_path(info.location.uri)).resolve()), r_start, r_end, info.message))
            items.add((str(Path(to_fs_path(uri)).resolve()), d.code, _SEVERITIES[d.severity], d.message, start, end,
                       tuple(sorted(related)), tuple(sorted(notes))))
    return items


@pytest_asyncio.fixture
async def session(shop: Path):
    started = await Session.start(shop)
    yield started
    await started.stop()


def labels(items) -> list[str]:
    if isinstance(items, lsp.CompletionList):
        items = items.items
    return [item.label for item in items or []]


async def complete_at(session: Session, uri: str, needle: str, delta: int | None = None) -> list[str]:
    position = session.position(uri, needle, len(needle) if delta is None else delta)
    return labels(await session.client.text_document_completion_async(lsp.CompletionParams(session.doc(uri), position)))


async def with_text(session: Session, uri: str, old: str, new: str) -> None:
    """Edit a buffer and wait until the server has analysed the new version."""
    session.replace(uri, old, new)
    await session.diagnostics(uri, what="analysis")


# ---- diagnostics --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_session_leaves_the_workspace_trees_and_the_protocols_code_in_the_disk_cache(shop: Path, tmp_path, monkeypatch):
    from gop.compiler.core.diskcache import open_disk_cache
    from gop.compiler.syntax.parser import ParseResult, parse_key
    from gop.lsp import attrs_code

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the server's, as it inherits the environment
    # Started above the workspace, which holds no .gop file: no helper parses ahead, the trees are the server's.
    started = await Session.start(shop, cwd=shop.parent)
    await started.diagnostics(started.open("apps.gop"))
    await started.stop()  # the trees are written after the diagnostics, at the latest on shutdown
    disk = open_disk_cache()
    for path in sorted(shop.glob("*.gop")):
        key = parse_key(disk, f"{shop.name}/{path.name}", path.read_text(encoding="utf-8"))  # keys relative to the server's cwd
        assert isinstance(disk.get("parse", key), ParseResult), path.name
    assert attrs_code._entry(disk.get(attrs_code.KIND, disk.key(attrs_code.KIND)))


@pytest.mark.asyncio
async def test_diagnostics_equal_gopc_check_and_are_cleared(session: Session, shop: Path):
    apps = session.open("apps.gop")
    envs = session.open("envs.gop")
    session.replace(apps, "  replicas = 3\n", '  replicas = "three"\n  imagePolicyy { semver = "^1" }\n')
    session.replace(envs, "app web {\n    ingress.tls", "app webb {\n    ingress.tls")
    await session.diagnostics(apps, lambda items: {d.code for d in items} >= {"E0301", "E0304"})
    await session.diagnostics(envs, lambda items: any(d.code == "E0201" for d in items))
    session.write_all()
    expected = comparable_check(shop)
    assert comparable_lsp(session.client.published, session.texts) == expected
    fixed = [d for d in session.client.published[envs][1] if d.code == "E0201"][0]
    assert fixed.source == "gopc" and "webb" in fixed.message and fixed.severity == lsp.DiagnosticSeverity.Error
    assert any(info.message == "note: did you mean `web`?" for info in fixed.related_information)

    session.replace(apps, '  replicas = "three"\n  imagePolicyy { semver = "^1" }\n', "  replicas = 3\n")
    session.replace(envs, "app webb {", "app web {")
    assert await session.diagnostics(apps, lambda items: items == [], what="cleared diagnostics") == []
    assert await session.diagnostics(envs, lambda items: items == [], what="cleared diagnostics") == []


@pytest.mark.asyncio
async def test_diagnostics_for_an_unopened_file_and_related_locations(shop: Path):
    text = (shop / "fleet.gop").read_text()
    (shop / "fleet.gop").write_text(text + '\nlet domain = "twice.example.com"\n')
    session = await Session.start(shop)
    try:
        uri = session.uri("fleet.gop")
        items = await session.diagnostics(uri, lambda items: any(d.code == "E0202" for d in items))
        twice = next(d for d in items if d.code == "E0202")
        first = next(info for info in twice.related_information if info.message == "first declared here")
        assert first.location.uri == uri and first.location.range.start.line == text.count("\n", 0, text.index("let domain"))
        assert comparable_lsp(session.client.published, {}) == comparable_check(shop)
    finally:
        await session.stop()


@pytest.mark.asyncio
async def test_syntax_error_then_repair(session: Session, shop: Path):
    apps = session.open("apps.gop")
    session.replace(apps, '    tag = "1.4.2"\n', '    tag = \n')
    items = await session.diagnostics(apps, lambda items: any(d.code.startswith("E01") for d in items))
    session.write_all()
    assert comparable_lsp({apps: (None, items)}, session.texts) == {d for d in comparable_check(shop) if d[0] == str(shop / "apps.gop")}
    session.replace(apps, '    tag = \n', '    tag = "1.4.2"\n')
    assert await session.diagnostics(apps, lambda items: items == [], what="cleared diagnostics") == []


# ---- completion ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_completion_keywords_at_top_level(session: Session):
    uri = session.open("apps.gop")
    session.change(uri, session.texts[uri] + "\nsch")
    found = await complete_at(session, uri, "\nsch")
    assert {"schema", "app", "env", "cluster", "labels", "let", "import"} <= set(found)


@pytest.mark.asyncio
async def test_completion_of_app_fields_and_nested_records(session: Session):
    uri = session.open("apps.gop")
    await session.diagnostics(uri, what="analysis")
    assert {"image", "replicas", "ports", "ingress", "values", "delivery"} <= set(await complete_at(session, uri, "app checkout {\n", len("app checkout {\n")))
    assert set(await complete_at(session, uri, '    repository = "ghcr.io/acme/checkout"\n', 0)) == {"repository", "tag", "pullPolicy"}
    session.replace(uri, "  namespace = \"shop\"\n  replicas = 3", "  namespace = \"shop\"\n  resources { requests { c } }\n  replicas = 3")
    assert set(await complete_at(session, uri, "requests { c", len("requests { "))) == {"cpu", "memory"}
    session.replace(uri, "    paymentTimeout = 20s\n", "    paymentTimeout = 20s\n    pay\n")
    found = await complete_at(session, uri, "    pay\n", len("    pay"))
    assert {"paymentProvider", "paymentTimeout", "logLevel", "features"} == set(found)


@pytest.mark.asyncio
async def test_completion_of_dotted_paths_and_values(session: Session):
    uri = session.open("envs.gop")
    await session.diagnostics(uri, what="analysis")
    session.replace(uri, '    image.pullPolicy = "IfNotPresent"', '    image.pullPolicy = "IfNotPresent"\n    image.\n    image.pullPolicy = ')
    assert set(await complete_at(session, uri, "    image.\n", len("    image."))) == {"repository", "tag", "pullPolicy"}
    assert set(await complete_at(session, uri, "    image.pullPolicy = \n", len("    image.pullPolicy = "))) == {'"Always"', '"IfNotPresent"', '"Never"'}


@pytest.mark.asyncio
async def test_completion_of_settings_fields(session: Session):
    uri = session.open("fleet.gop")
    await session.diagnostics(uri, what="analysis")
    assert set(await complete_at(session, uri, 'source flux-system {\n', len('source flux-system {\n'))) == {"url", "branch", "interval", "secretName"}
    assert {"charts", "registry", "ociSource", "prune"} <= set(await complete_at(session, uri, "delivery {\n", len("delivery {\n")))
    session.replace(uri, '  registry = charts\n', '  registry = \n')
    assert "charts" in await complete_at(session, uri, "  registry = \n", len("  registry = "))


@pytest.mark.asyncio
async def test_completion_of_labels_in_selectors_and_clusters(session: Session):
    uri = session.open("envs.gop")
    await session.diagnostics(uri, what="analysis")
    session.replace(uri, 'overlay cn-ingress where region == "cn-north-1" {', 'overlay cn-ingress where  {')
    assert await complete_at(session, uri, "overlay cn-ingress where ") == ["environment", "region", "tier"]
    session.replace(uri, 'overlay cn-ingress where  {', 'overlay cn-ingress where region ==  {')
    assert set(await complete_at(session, uri, "where region == ")) == {'"cn-north-1"', '"us-east-1"', '"eu-central-1"'}
    session.replace(uri, 'where region ==  {', 'where tier in ["gold",  {')
    assert set(await complete_at(session, uri, 'tier in ["gold", ')) == {'"gold"', '"silver"'}
    clusters = session.open("clusters.gop")
    session.replace(clusters, '  labels { environment = "dev", region = "us-east-1" }', '  labels {\n    environment = "dev", region = "us-east-1"\n    \n  }')
    assert await complete_at(session, clusters, 'region = "us-east-1"\n    ') == ["environment", "region", "tier"]
    session.replace(clusters, 'region = "us-east-1"\n    \n', 'region = "us-east-1"\n    tier = \n')
    assert set(await complete_at(session, clusters, "    tier = ")) == {'"gold"', '"silver"'}


@pytest.mark.asyncio
async def test_completion_of_app_names(session: Session):
    envs = session.open("envs.gop")
    await session.diagnostics(envs, what="analysis")
    session.replace(envs, "  app web {\n    ingress.tls", "  app \n  app web {\n    ingress.tls")
    assert set(await complete_at(session, envs, "  app \n", len("  app "))) == {"cart", "checkout", "recommendations", "web"}
    assert {"app", "all"} <= set(await complete_at(session, envs, "  app \n", len("  ")))
    apps = session.open("apps.gop")
    session.replace(apps, "dependsOn = [cart]", "dependsOn = [cart, ]")
    assert set(await complete_at(session, apps, "dependsOn = [cart, ")) == {"cart", "checkout", "recommendations", "web"}


@pytest.mark.asyncio
async def test_completion_of_types_after_colon(session: Session):
    uri = session.open("lib/types.gop")
    await session.diagnostics(uri, what="analysis")
    session.replace(uri, "  paymentTimeout: duration(1s..2m) = 30s\n", "  paymentTimeout: duration(1s..2m) = 30s\n  retries: \n")
    found = set(await complete_at(session, uri, "  retries: "))
    assert {"int", "string", "duration", "quantity", "secret", "list", "map"} <= found
    assert {"Port", "DnsLabel", "Image", "LogLevel", "ServiceValues"} <= found
    apps = session.open("apps.gop")
    session.replace(apps, "values: lib.ServiceValues {}\n  imagePolicy", "values: lib. {}\n  imagePolicy")
    assert set(await complete_at(session, apps, "values: lib.")) == {"ServiceValues", "CheckoutValues"}


@pytest.mark.asyncio
async def test_completion_uses_last_good_analysis_while_broken(session: Session):
    uri = session.open("apps.gop")
    await session.diagnostics(uri, what="analysis")
    session.replace(uri, "    paymentTimeout = 20s\n  }", "    paymentTimeout = 20s\n    \n")  # unclosed: the app is broken
    await session.diagnostics(uri, lambda items: any(d.code.startswith("E01") for d in items))
    assert {"paymentProvider", "logLevel"} <= set(await complete_at(session, uri, "    paymentTimeout = 20s\n    "))


@pytest.mark.asyncio
async def test_completion_and_signature_inside_sops(session: Session):
    uri = session.open("apps.gop")
    await session.diagnostics(uri, what="analysis")
    session.replace(uri, 'secret = "checkout-db", key = "password")', 'secret = "checkout-db", ')
    found = await complete_at(session, uri, 'secret = "checkout-db", ')
    assert found == ["key ="]
    help_ = await session.client.text_document_signature_help_async(lsp.SignatureHelpParams(
        session.doc(uri), session.position(uri, 'secret = "checkout-db", ', len('secret = "checkout-db", '))))
    assert help_.signatures[0].label == "sops(file, secret = ..., key = ...)" and help_.active_parameter == 2


# ---- hover, inlay hints ------------------------------------------------------------------------------


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first occurrence of `needle`."""
    text = path.read_text()
    return text.count("\n", 0, text.index(needle)) + 1


async def hover_at(session: Session, uri: str, needle: str, delta: int = 0) -> str | None:
    found = await session.client.text_document_hover_async(lsp.HoverParams(session.doc(uri), session.position(uri, needle, delta)))
    return found.contents.value if found else None


@pytest.mark.asyncio
async def test_hover_shows_effective_values_per_env_and_cluster(session: Session):
    uri = session.open("apps.gop")
    await session.diagnostics(uri, what="analysis")
    text = await hover_at(session, uri, "  replicas = 3", 3)
    assert "replicas: int(0..1000) = 1" in text and "How many pods run" in text
    envs, clusters = session.root / "envs.gop", session.root / "clusters.gop"
    assert text.index("env `dev`") < text.index("env `staging`") < text.index("env `prod`")  # declaration order
    assert f"- env `dev`: `2` — `env dev` (env overlay, envs.gop:{line_of(envs, 'replicas = 2')})" in text
    assert f"- env `prod`: `6` — `env prod` (env overlay, envs.gop:{line_of(envs, 'replicas = 6')})" in text
    assert (f"  - cluster `prod-eu-1`: `8` — `cluster prod-eu-1` (cluster override, clusters.gop:{line_of(clusters, 'replicas = 8')})"
            in text)
    text = await hover_at(session, uri, "    className = \"nginx\"", 6)
    assert f"- env `staging`: `\"nginx-cn\"` — `overlay cn-ingress` (selector overlay, envs.gop:{line_of(envs, 'nginx-cn')})" in text
    assert f"- env `prod`: `\"nginx\"` — `app web` (app, apps.gop:{line_of(session.root / 'apps.gop', 'className')})" in text
    assert "  - cluster `prod-cn-1`: `\"nginx-cn\"`" in text


@pytest.mark.asyncio
async def test_hover_on_types_schemas_lets_apps_and_labels(session: Session):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")
    text = await hover_at(session, apps, "lib.CheckoutValues", 5)
    assert "schema CheckoutValues {" in text and "paymentTimeout: duration(1s..2m)" in text and "Extra values of the checkout service." in text
    assert 'let domain = "shop.example.com"' in await hover_at(session, apps, "${domain}", 3)
    text = await hover_at(session, apps, "dependsOn = [cart]", len("dependsOn = [c"))
    assert "app cart" in text and "Keeps shopping carts in memory." in text and "prod-eu-1 (prod)" in text
    fleet = session.open("fleet.gop")
    assert 'type Environment = "dev" | "staging" | "prod"' in await hover_at(session, fleet, "lib.Environment", 5)
    envs = session.open("envs.gop")
    text = await hover_at(session, envs, 'region == "cn-north-1"', 2)
    assert "label region" in text and '`"cn-north-1"`: prod-cn-1, staging-cn-1' in text
    assert "built-in type" in await hover_at(session, session.open("lib/types.gop"), "map[string]bool", 5)


@pytest.mark.asyncio
async def test_inlay_hints_beside_overridden_fields(session: Session):
    uri = session.open("apps.gop")
    await session.diagnostics(uri, what="analysis")
    hints = await session.client.text_document_inlay_hint_async(lsp.InlayHintParams(
        session.doc(uri), lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=200, character=0))))
    by_line = {hint.position.line: hint.label for hint in hints}
    replicas = session.position(uri, "  replicas = 3")
    assert by_line[replicas.line] == "dev: 2 · staging: 2 · prod: 6 (prod-eu-1: 8)"
    assert session.position(uri, '  namespace = "shop"').line not in by_line


# ---- definition, references, rename -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_definition_across_files_and_into_the_prelude(session: Session, shop: Path):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")

    async def definition(needle: str, delta: int) -> lsp.Location:
        found = await session.client.text_document_definition_async(lsp.DefinitionParams(session.doc(apps), session.position(apps, needle, delta)))
        assert len(found) == 1, found
        return found[0]

    target = await definition("lib.CheckoutValues", 6)
    assert target.uri == session.uri("lib/types.gop")
    assert (shop / "lib/types.gop").read_text().splitlines()[target.range.start.line].startswith("schema CheckoutValues")
    target = await definition("${domain}", 3)
    assert target.uri == session.uri("fleet.gop") and target.range.start.character == 4
    target = await definition("  image {", 3)
    prelude = Path(to_fs_path(target.uri))
    assert prelude.name == "prelude.gop" and prelude.read_text() == (REPO / "stdlib" / "prelude.gop").read_text()
    assert prelude.read_text().splitlines()[target.range.start.line].strip() == "image: Image"
    envs = session.open("envs.gop")
    found = await session.client.text_document_definition_async(lsp.DefinitionParams(session.doc(envs), session.position(envs, "app web {", 5)))
    assert found[0].uri == apps and found[0].range.start.line == session.position(apps, "app web {").line
    prelude_uri = from_fs_path(str(prelude))
    session.client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=prelude_uri, language_id="gop", version=1, text=prelude.read_text())))
    found = await session.client.text_document_definition_async(lsp.DefinitionParams(
        lsp.TextDocumentIdentifier(uri=prelude_uri), lsp.Position(line=target.range.start.line, character=target.range.start.character + 8)))
    assert found[0].uri == prelude_uri and prelude.read_text().splitlines()[found[0].range.start.line].startswith("schema Image")


@pytest.mark.asyncio
async def test_references_across_files(session: Session):
    fleet = session.open("fleet.gop")
    await session.diagnostics(fleet, what="analysis")
    found = await session.client.text_document_references_async(lsp.ReferenceParams(
        text_document=session.doc(fleet), position=session.position(fleet, "let domain", 5),
        context=lsp.ReferenceContext(include_declaration=True)))
    by_file = sorted((Path(to_fs_path(l.uri)).name, l.range.start.line) for l in found)
    assert by_file == [("apps.gop", 14), ("apps.gop", 53), ("apps.gop", 56), ("fleet.gop", 16)]
    found = await session.client.text_document_references_async(lsp.ReferenceParams(
        text_document=session.doc(fleet), position=session.position(fleet, "environment: lib", 2),
        context=lsp.ReferenceContext(include_declaration=False)))
    names = sorted(Path(to_fs_path(l.uri)).name for l in found)
    assert names == ["apps.gop"] + ["clusters.gop"] * 6 + ["envs.gop"] * 3 + ["namespaces.gop"] * 2


async def rename(session: Session, uri: str, needle: str, delta: int, new_name: str) -> lsp.WorkspaceEdit:
    return await session.client.text_document_rename_async(lsp.RenameParams(session.doc(uri), session.position(uri, needle, delta), new_name))


def apply(edit: lsp.WorkspaceEdit) -> None:
    for uri, edits in edit.changes.items():
        path = Path(to_fs_path(uri))
        source = SourceFile(str(path), path.read_text())
        text = source.text
        spans = sorted(((source.offset_from_utf16(e.range.start.line, e.range.start.character),
                         source.offset_from_utf16(e.range.end.line, e.range.end.character), e.new_text) for e in edits), reverse=True)
        for start, end, new in spans:
            text = text[:start] + new + text[end:]
        path.write_text(text)


@pytest.mark.asyncio
async def test_rename_app_let_and_schema_keeps_the_program_valid(session: Session, shop: Path):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")
    edit = await rename(session, apps, "app cart", 5, "basket")
    assert sorted(Path(to_fs_path(u)).name for u in edit.changes) == ["apps.gop"]
    assert len(edit.changes[apps]) == 2
    apply(edit)
    edit = await rename(session, apps, "${domain}", 3, "shopDomain")
    assert sorted((Path(to_fs_path(u)).name, len(e)) for u, e in edit.changes.items()) == [("apps.gop", 3), ("fleet.gop", 1)]
    apply(edit)
    edit = await rename(session, apps, "lib.ServiceValues", 5, "CommonValues")
    assert sorted((Path(to_fs_path(u)).name, len(e)) for u, e in edit.changes.items()) == [("apps.gop", 3), ("types.gop", 1)]
    apply(edit)
    text = (shop / "apps.gop").read_text()
    assert "app basket" in text and "dependsOn = [basket]" in text and "${shopDomain}" in text and "lib.CommonValues" in text
    assert gopc_check(shop) == []


@pytest.mark.asyncio
async def test_rename_refuses_unsafe_and_std_names(session: Session):
    types_ = session.open("lib/types.gop")
    await session.diagnostics(types_, what="analysis")
    with pytest.raises(Exception, match="cannot be renamed safely"):
        await rename(session, types_, "  logLevel: LogLevel", 3, "verbosity")
    apps = session.open("apps.gop")
    with pytest.raises(Exception, match="standard library"):
        await rename(session, apps, "  replicas = 3", 3, "count")
    with pytest.raises(Exception, match="not a valid name"):
        await rename(session, apps, "app cart", 5, "Cart_Service")
    with pytest.raises(Exception, match="already declared"):
        await rename(session, apps, "app cart", 5, "web")
    prepared = await session.client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
        session.doc(apps), session.position(apps, "app cart", 5)))
    assert prepared.placeholder == "cart" and prepared.range.start == session.position(apps, "cart {")
    edit = await rename(session, types_, "paymentProvider:", 3, "provider")
    assert sum(len(e) for e in edit.changes.values()) == 1


# ---- symbols, tokens, code actions --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_document_and_workspace_symbols(session: Session):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")
    symbols = await session.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(session.doc(apps)))
    assert [s.name for s in symbols] == ["checkout", "cart", "web", "recommendations"]
    checkout = symbols[0]
    assert checkout.kind == lsp.SymbolKind.Class and checkout.detail == "app"
    assert [c.name for c in checkout.children][:4] == ["image", "namespace", "replicas", "ports"]
    assert [c.name for c in checkout.children[0].children] == ["repository", "tag"]
    found = await session.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="checkout"))
    assert {(s.name, s.container_name) for s in found} >= {("checkout", "app"), ("CheckoutValues", "schema")}
    assert all("checkout" in s.name.lower() for s in found)


def decode(data: list[int], text: str, legend: lsp.SemanticTokensLegend) -> dict[str, tuple[str, list[str]]]:
    lines = text.split("\n")
    out = {}
    line = character = 0
    for i in range(0, len(data), 5):
        delta_line, delta_start, length, kind, modifiers = data[i:i + 5]
        line += delta_line
        character = character + delta_start if delta_line == 0 else delta_start
        word = lines[line][character:character + length]
        names = [m for bit, m in enumerate(legend.token_modifiers) if modifiers & (1 << bit)]
        out.setdefault(word, (legend.token_types[kind], names))
    return out


@pytest.mark.asyncio
async def test_semantic_tokens(session: Session):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")
    result = await session.client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(session.doc(apps)))
    legend = session.capabilities.semantic_tokens_provider.legend
    tokens = decode(result.data, session.texts[apps], legend)
    assert tokens["checkout"] == ("class", ["declaration"])
    assert tokens["image"] == ("property", ["defaultLibrary"])
    assert tokens["lib"] == ("namespace", [])
    assert tokens["CheckoutValues"] == ("struct", [])
    assert tokens["domain"] == ("variable", ["readonly"])
    assert tokens["app"] == ("keyword", [])
    assert tokens["sops"][0] == "function"
    assert tokens["/// Takes payments and places orders."] == ("comment", ["documentation"])
    assert tokens['"ghcr.io/acme/checkout"'] == ("string", [])
    assert tokens["20s"] == ("number", [])


@pytest.mark.asyncio
async def test_quick_fix_from_did_you_mean(session: Session):
    apps = session.open("apps.gop")
    session.replace(apps, "  replicas = 3\n", "  replicsa = 3\n")
    items = await session.diagnostics(apps, lambda items: any(d.code == "E0304" for d in items))
    wrong = next(d for d in items if d.code == "E0304")
    actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
        session.doc(apps), wrong.range, lsp.CodeActionContext(diagnostics=[wrong])))
    assert [a.title for a in actions] == ["change to `replicas`"]
    assert actions[0].kind == lsp.CodeActionKind.QuickFix and actions[0].diagnostics[0].code == "E0304"
    (edit,) = actions[0].edit.changes[apps]
    assert edit.new_text == "replicas" and edit.range == wrong.range
    lines = session.texts[apps].split("\n")
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    session.change(apps, "\n".join(lines))
    assert await session.diagnostics(apps, lambda items: items == [], what="cleared diagnostics") == []


# ---- robustness ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_odd_requests_get_answers_not_a_dead_server(session: Session, tmp_path: Path):
    apps = session.open("apps.gop")
    await session.diagnostics(apps, what="analysis")
    far = lsp.Position(line=10_000, character=500)
    assert await session.client.text_document_hover_async(lsp.HoverParams(session.doc(apps), far)) is None
    assert labels(await session.client.text_document_completion_async(lsp.CompletionParams(session.doc(apps), far))) is not None
    stray = from_fs_path(str(tmp_path / "elsewhere" / "nothing.gop"))
    assert await session.client.text_document_definition_async(lsp.DefinitionParams(lsp.TextDocumentIdentifier(uri=stray), far)) == []
    untitled = "untitled:Untitled-1"
    session.client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=untitled, language_id="gop", version=1, text="app {")))
    assert labels(await session.client.text_document_completion_async(lsp.CompletionParams(lsp.TextDocumentIdentifier(uri=untitled), lsp.Position(line=0, character=5)))) == []
    session.change(apps, "\x00\ufffd{{{{ app app app ]]] \"\"\" ${ 😀 \n" * 3)
    items = await session.diagnostics(apps, lambda items: bool(items))
    assert all(d.code.startswith("E") for d in items)
    for request in (session.client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(session.doc(apps))),
                    session.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(session.doc(apps)))):
        assert await request is not None
    assert not [m for m in session.client.log_messages if m.type == lsp.MessageType.Error]


# ---- formatting -----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_formatting_uses_the_canonical_formatter(session: Session):
    uri = session.open("envs.gop")
    canonical = session.texts[uri]
    messy = canonical.replace("  all {\n    replicas = 2\n", "  all   {\n        replicas=2\n", 1)
    session.change(uri, messy)
    edits = await session.client.text_document_formatting_async(lsp.DocumentFormattingParams(
        session.doc(uri), lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    (edit,) = edits
    assert edit.range.start == lsp.Position(line=0, character=0)
    assert edit.new_text == format_source("envs.gop", messy).text and "  all {\n    replicas = 2\n" in edit.new_text
    session.change(uri, messy + "\napp {")
    assert await session.client.text_document_formatting_async(lsp.DocumentFormattingParams(
        session.doc(uri), lsp.FormattingOptions(tab_size=2, insert_spaces=True))) == []


def _framed(message: dict) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def test_the_server_exits_cleanly_when_the_client_says_exit(tmp_path):
    """shutdown, then exit: exit code 0 and nothing on stderr that looks like a crash."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"processId": None, "rootUri": from_fs_path(str(tmp_path)), "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None},
        {"jsonrpc": "2.0", "method": "exit", "params": None},
    ]
    done = subprocess.run(SERVER, input=b"".join(map(_framed, messages)), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"Error" not in done.stderr, done.stderr.decode()
