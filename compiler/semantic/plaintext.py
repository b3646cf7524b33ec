"""Plaintext secrets written into the program, which would be committed to Git with it.

Input: the parsed `Program` (its syntax trees and source texts). Output: diagnostics.
Runs on the syntax, so every finding has the span of the string literal that holds it.
Its tests of a value (`looks_secret`, `comment_reads_secret`) also judge what SOPS files leave
in clear (`lower.flux.secrets`).

What is reported (the heuristics are meant to have few false positives):
- W0603, a value that reads like a secret in an app's `env`, `config`, `values` or
  annotations (`ingress.annotations`, `routes.annotations`, `serviceAccount.annotations`), in an app, env, overlay
  or cluster body. A value reads like a secret when either
  * its shape alone says so (`secret_shape`): a PEM private key block, a well-known token
    prefix (GitHub `ghp_`/`gho_`/`ghs_`/`ghu_`/`ghr_`/`github_pat_`, Slack `xox?-`, AWS access key
    ids `AKIA`/`ASIA`, GitLab `glpat-`, Stripe `sk_live_`, Google `AIza`, OpenAI-style `sk-`), or a URL
    that carries a password (`scheme://user:password@host`); or
  * its key names a secret (the words password, passwd, pwd, pass, passphrase, secret, token,
    credential(s), apikey, or api/private/access/signing/encryption/master + key; split at
    `_`, `-`, `.` and camelCase) and no word of the key says the value is *about* the secret
    (file, path, name, url, ttl, length, id, ...: `PASSWORD_FILE`, `TOKEN_URL`), and the value
    is not a placeholder (`$VAR`, `${VAR}`, `$(VAR)`, `{{ ... }}`, `<...>`), a path, a URL
    without a password, a number, a boolean word or shorter than 4 characters. In annotation
    keys the word "secret" does not count (`nginx.ingress.kubernetes.io/auth-secret` names
    a Secret).
  In `env` the warning carries a fix that moves the variable to `secretEnv` as a
  `secretRef(...)` to a Secret the user creates.
- E0604, a URL with a password anywhere in the program (`https://user:pass@host`): source
  and registry URLs, env values, lets. A `${...}` interpolation or `$(VAR)` in the password
  place is not a password.
- E0605, the name of a Secret or key in `sops(...)`, `secretRef(...)` or `external(...)` that
  reads like a secret value (its shape: a token, a private key). A name its type refuses (a
  password's punctuation is no Secret name or key) is the type's error (E0303), not reported again.

A comment `// gopc:not-secret` on the line where the string literal ends silences W0603
and E0605 for it (a false positive); credentials in URLs cannot be silenced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Diagnostic, Fix, diagnostic
from gop.compiler.semantic.loader import Program
from gop.compiler.core.span import Span
from gop.compiler.semantic.check import SECRET_ARGUMENT_TYPES, SECRET_FUNCTIONS, SECRET_PARAMETERS, string_fits
from gop.compiler.diagnostics import codes
from gop.compiler.language import ANNOTATED_OBJECTS

SILENCE = "gopc:not-secret"

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_TOKEN_PREFIXES = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}|glpat-[A-Za-z0-9_-]{20,}|sk_live_[0-9A-Za-z]{24,}|AIza[0-9A-Za-z_-]{35}"
    r"|sk-(?:proj-)?[A-Za-z0-9_-]{32,})")
# The scheme starts where no scheme character precedes it: each run of them is scanned once, not
# once per position (a 256 KB value took minutes).
_URL_PASSWORD = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:(?P<password>[^/\s@]+)@")
_SECRET_CALL = re.compile(r"\b(?:" + "|".join(SECRET_FUNCTIONS) + r")\s*\(")
_PLACEHOLDER = re.compile(r"^\$\{[^}]*\}$|^\$\([^)]*\)$|^\$[A-Za-z_][A-Za-z0-9_]*$")

_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "credential",
                           "credentials", "apikey", "privatekey"})
_KEY_QUALIFIERS = frozenset({"api", "private", "access", "signing", "encryption", "master"})
_ABOUT_WORDS = frozenset({
    "file", "files", "path", "dir", "name", "names", "ref", "url", "uri", "endpoint", "host", "header", "ttl",
    "length", "len", "min", "max", "expiry", "expires", "expiration", "lifetime", "timeout", "enabled", "enable",
    "disabled", "policy", "type", "mode", "id", "field", "env", "var", "location", "mount", "rotation", "required",
    "prefix", "issuer", "audience", "algorithm", "alg", "format", "size", "count", "interval", "duration", "seconds",
    "store", "provider", "version", "strength", "complexity"})
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "nil", "n/a"})
_ANNOTATIONS = frozenset((field, "annotations") for field in ANNOTATED_OBJECTS)
_CHECKED_FIELDS = frozenset({"env", "config", "values", *ANNOTATED_OBJECTS})  # the App fields looked into


def secret_shape(text: str) -> str | None:
    """What makes a text a secret by its shape alone, or None."""
    if _PEM_PRIVATE_KEY.search(text):
        return "a PEM private key"
    token = _TOKEN_PREFIXES.search(text)
    if token:
        return f"a token (`{token.group()[:4]}…`)"
    if url_password(text):
        return "a URL with a password"
    return None


def url_password(text: str) -> bool:
    """Whether a URL in the text carries a password (not a `${...}`/`$(...)` placeholder)."""
    return any(not _PLACEHOLDER.match(match.group("password")) for match in _URL_PASSWORD.finditer(text))


def key_words(key: str) -> list[str]:
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", key)]


def names_a_secret(key: str, *, annotation: bool = False) -> bool:
    """Whether a key names a secret value (not something about one, like its file or name)."""
    words = key_words(key.rsplit("/", 1)[-1] if annotation else key)
    if any(word in _ABOUT_WORDS for word in words):
        return False
    secret_words = _SECRET_WORDS - {"secret"} if annotation else _SECRET_WORDS
    if any(word in secret_words for word in words):
        return True
    return any(first in _KEY_QUALIFIERS and second == "key" for first, second in zip(words, words[1:]))


def value_could_be_secret(value: str) -> bool:
    text = value.strip()
    if len(text) < 4 or text.lower() in _NOT_SECRETS or text.isdigit():
        return False
    if "${" in text or "$(" in text or "{{" in text or _PLACEHOLDER.match(text) or text.startswith("<"):
        return False
    if text.startswith(("/", "./", "~/")):
        return False
    return not (re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) and not url_password(text))


def looks_secret(key: str, value: str, *, annotation: bool = False) -> str | None:
    """Why a key's value reads like a secret, or None."""
    shape = secret_shape(value)
    if shape:
        return shape
    if names_a_secret(key, annotation=annotation) and value_could_be_secret(value):
        return f"a secret by its name `{key}`"
    return None


_KEY_VALUE = re.compile(r"^\s*-?\s*([\w.\-/]+)\s*[:=]\s*[\"']?(.*?)[\"']?\s*$")


def comment_reads_secret(comment: str) -> bool:
    """Whether a YAML comment holds a secret: by its shape, or as a `key: value` line."""
    match = _KEY_VALUE.match(comment)
    return bool(secret_shape(comment) or (match and looks_secret(match.group(1), match.group(2))))


def check(program: Program, memo=None) -> list[Diagnostic]:
    """`memo`: the findings of earlier analyses by syntax tree (a `session.RoundMemo`), or None:
    a file's findings are a function of its tree (and text, which the tree stands for)."""
    found: list[Diagnostic] = []
    for file, tree in program.files.items():
        kept = memo.get(tree) if memo is not None else None
        if kept is None:
            kept = _check_file(tree, program.sources[file].text if file in program.sources else "")
            if memo is not None:
                memo.put(tree, kept)
        found += kept
    return found


def _check_file(tree: ast.File, source: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    silenced = {_line_of(source, c.span.start) for c in tree.comments if SILENCE in c.text}
    if ("@" in source and _URL_PASSWORD.search(source)) or _SECRET_CALL.search(source):  # walking every node is slow
        for node in tree.walk():
            if isinstance(node, ast.StringLit):
                found += _url_credentials(node)
            elif isinstance(node, ast.Call) and node.func.text in SECRET_FUNCTIONS:
                found += _secret_names(node, source, silenced)
    for decl in (member for top in tree.decls for member in (top.decls if isinstance(top, ast.ForDecl) else (top,))):
        if isinstance(decl, ast.ResourceDecl) and decl.kind in ("app", "env", "overlay", "cluster"):
            # the members of a `for` are checked as written (their names are strings: `app "${name}"`)
            app = decl.name.text if decl.kind == "app" and isinstance(decl.name, ast.Name) else None
            body_kind = "app" if decl.kind == "app" else "target"
            for leaf in _string_leaves(decl.body, (), None, app, body_kind):
                found += _plaintext_value(leaf, source, silenced)
    return found


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def _text_of(literal: ast.StringLit) -> str:
    """The literal's text with each interpolation as `${}` (a value from elsewhere)."""
    return "".join(part if isinstance(part, str) else "${}" for part in literal.parts)


def _url_credentials(literal: ast.StringLit) -> list[Diagnostic]:
    if not url_password(_text_of(literal)):
        return []
    return [diagnostic(codes.URL_WITH_PASSWORD, literal.span, "a URL with a password would be committed to Git with the program",
                       notes=("give the credentials to Flux or the app in a Secret instead: `secretName` for a "
                              "source or registry, `secretEnv` for an app",))]


def _secret_names(call: ast.Call, source: str, silenced: set[int]) -> list[Diagnostic]:
    found = []
    for index, arg in enumerate(call.args):
        name = arg.name.text if arg.name else SECRET_PARAMETERS[call.func.text][index] if index == 0 else None
        if name not in ("secret", "key") or not isinstance(arg.value, ast.StringLit):
            continue
        text = _text_of(arg.value)
        why = secret_shape(text) if string_fits(text, SECRET_ARGUMENT_TYPES[name]) else None
        if why and _line_of(source, arg.value.span.end) not in silenced:
            found.append(diagnostic(
                codes.SECRET_WHERE_NAME_EXPECTED, arg.value.span, f"the `{name}` of `{call.func.text}(...)` reads like a secret value ({why})",
                notes=(f"`{name}` names where the secret is kept; the value itself never appears in the program",)))
    return found


class _Leaf:
    """A string literal assigned at a path of an app body, with where it was written."""

    __slots__ = ("path", "literal", "assign", "block", "app")

    def __init__(self, path: tuple[str, ...], literal: ast.StringLit, assign: ast.Assign,
                 block: ast.Block | None, app: str | None) -> None:
        self.path, self.literal, self.assign, self.block, self.app = path, literal, assign, block, app


def _string_leaves(body: ast.Body, prefix: tuple[str, ...], block: ast.Block | None, app: str | None,
                   body_kind: str) -> Iterator[_Leaf]:
    """The string literals of an app body (body_kind "app") or of an env/overlay/cluster body
    ("target", whose `app NAME { }` and `all { }` hold app bodies)."""
    for stmt in body.stmts:
        if isinstance(stmt, ast.AppTarget):
            yield from _string_leaves(stmt.body, (), None, stmt.name.text, "app")
        elif isinstance(stmt, ast.AllTarget):
            yield from _string_leaves(stmt.body, (), None, None, "app")
        elif body_kind != "app":
            continue
        elif not prefix and (not stmt.path.keys or stmt.path.keys[0].text not in _CHECKED_FIELDS):
            continue
        elif isinstance(stmt, ast.Block):
            yield from _string_leaves(stmt.body, prefix + _keys(stmt.path), stmt, app, "app")
        elif isinstance(stmt, ast.Assign):
            path = prefix + _keys(stmt.path)
            if isinstance(stmt.value, ast.StringLit):
                yield _Leaf(path, stmt.value, stmt, block, app)
            elif isinstance(stmt.value, ast.MapLit):
                yield from _string_leaves(stmt.value.body, path, None, app, "app")


def _keys(path: ast.Path) -> tuple[str, ...]:
    return tuple(key.text for key in path.keys)


def _plaintext_value(leaf: _Leaf, source: str, silenced: set[int]) -> list[Diagnostic]:
    path = leaf.path
    annotation = len(path) == 3 and path[:2] in _ANNOTATIONS
    if not (annotation or (len(path) == 2 and path[0] in ("env", "config")) or (len(path) >= 2 and path[0] == "values")):
        return []
    text = _text_of(leaf.literal)
    if url_password(text):
        return []  # E0604 says it
    why = looks_secret(path[-1], text, annotation=annotation)
    if why is None or _line_of(source, leaf.literal.span.end) in silenced:
        return []
    where = ".".join(path)
    fix = _move_to_secret_env(leaf, source) if path[0] == "env" else None
    return [diagnostic(
        codes.LOOKS_LIKE_SECRET, leaf.literal.span, f"`{where}` looks like a plaintext secret ({why}); it would be committed to Git",
        notes=("keep it in a Secret and read it through `secretEnv` (`secretRef`, `sops` or `external`); "
               f"if it is no secret, say so with a `// {SILENCE}` comment on the line",),
        fixes=[fix] if fix else [])]


def _move_to_secret_env(leaf: _Leaf, source: str) -> Fix | None:
    """Replaces `env { VAR = "..." }` or `env.VAR = "..."` by a `secretEnv` entry that reads
    the variable from a Secret (named after the app) the user then creates."""
    variable = leaf.path[1]
    key = "-".join(key_words(variable)) or "value"  # DB_PASSWORD -> db-password
    reference = f'secretRef(secret = "{leaf.app or key}", key = "{key}")'
    title = f"read `{variable}` from a Secret through `secretEnv`"
    assign = leaf.assign
    if _keys(assign.path) == ("env", variable):
        return Fix(assign.span, f"secretEnv.{variable} = {reference}", title)
    block = leaf.block
    if block is None or _keys(block.path) != ("env",) or _keys(assign.path) != (variable,):
        return None
    if len(block.body.stmts) == 1:
        return Fix(block.span, f"secretEnv {{ {variable} = {reference} }}", title)
    rest = _without(source, block.span, assign.span)
    line_start = source.rfind("\n", 0, block.span.start) + 1
    indent = source[line_start:block.span.start]
    indent = indent if not indent.strip() else ""
    return Fix(block.span, f"{rest}\n{indent}secretEnv.{variable} = {reference}", title)


def _without(source: str, outer: Span, inner: Span) -> str:
    """The text of `outer` without the statement at `inner` (its line, or its `, ` separator)."""
    before, after = source[outer.start:inner.start], source[inner.end:outer.end]
    stripped_after = after.lstrip(" \t")
    if stripped_after.startswith(","):
        return before + stripped_after[1:].lstrip(" \t")
    if before.rstrip(" \t").endswith(","):
        return before.rstrip(" \t")[:-1] + after
    line_before = before.rstrip(" \t")
    if line_before.endswith("\n") and (stripped_after.startswith("\n") or stripped_after.startswith("//")):
        comment_end = stripped_after.find("\n")
        return line_before + stripped_after[comment_end + 1:]
    return before + after
