"""The Secrets the apps of one cluster read: SOPS-encrypted manifests and ExternalSecrets.

Input: a `Fleet` and a cluster name (and the files already read for the fleet's other clusters,
which `caches.LoweringCaches` keeps). Every effective `secretEnv` value of kind "sops"
names an encrypted Secret manifest (a path relative to `fleet.root`); every value of kind
"external" a key of an external secret store (external-secrets.io).
Output: `cluster_sops_secrets`: one `SopsSecret` per distinct file the cluster needs, sorted
by path, each with the file's text verbatim and the directory of the repository it is
copied to. `cluster_external_secrets`: one `external-secrets.io/v1` ExternalSecret per
Secret the cluster's `external(...)` references fill, in the app's namespace, named as the
Secret (sorted by namespace and name); the external-secrets operator creates the Secret
from the store (`secretStoreRef`) with one `data` entry per key. Where an app's objects, and so
the Secrets it reads, live: `instance_namespace` (on a cluster), `cluster_namespaces` (every app
of a cluster), `env_namespace` (in apps/<env>/).

Invariants:
- A SOPS file is read only when it is a regular file of at most `MAX_SOPS_BYTES` inside the
  program directory after resolving symlinks (`readfile`): E0710 for a path that leaves it,
  E0711 for a FIFO, device, directory or an oversized file; never a hang or an exception.
- Nothing that is not SOPS-encrypted leaves this module: the file must be a single
  `v1 Secret` with a `sops` block carrying a MAC, and every value SOPS would encrypt under
  the rules its `sops` block records (`_SopsRules`), and every comment it would encrypt,
  must be an `ENC[...]` ciphertext; otherwise `FluxLoweringError`.
- One Secret has one source: one ExternalSecret (one store) per Secret, one remote value
  per key, and no Secret both from a SOPS file and from an external store.
- The manifest names the Secret the app reads (`metadata.name` == the reference's
  secret, the referenced key exists) in the app's namespace, and says so itself: the
  file is never rewritten, because the SOPS MAC covers its plaintext metadata too.
- One cluster never gets two files declaring the same Secret.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any


from gop.compiler.fleet.model import Fleet, Instance
from gop.compiler.syntax.readfile import UnreadableFile, read_program_file
from gop.compiler.semantic.plaintext import comment_reads_secret, looks_secret
from gop.compiler.core.span import Span
from gop.compiler.semantic.types import SecretRef, compile_pattern
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.diagnostics import codes

SECRETS_DIR = "secrets"
MAX_SOPS_BYTES = 4 << 20  # the API server takes Secrets up to 1 MiB; SOPS's ciphertext is larger
_READ_CODES = {"outside": codes.SOPS_FILE_OUTSIDE_PROGRAM, "not-regular": codes.SOPS_FILE_NOT_REGULAR, "too-large": codes.SOPS_FILE_NOT_REGULAR, "unreadable": codes.CANNOT_LOWER}
_CIPHERTEXT = re.compile(r"^ENC\[[A-Za-z0-9_]+,data:.*\]$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SopsSecret:
    file: str  # path relative to the program root, "/"-separated
    text: str  # the encrypted manifest, verbatim
    manifest: dict[str, Any]  # its parsed form
    namespace: str
    name: str

    @property
    def directory(self) -> str:
        """The kustomization directory that carries this file in the repository."""
        path = PurePosixPath(self.file)
        if path.suffix in (".yaml", ".yml"):
            path = path.with_suffix("")
        return f"{SECRETS_DIR}/{path}"

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.file).name


def cluster_sops_secrets(fleet: Fleet, cluster: str, read: dict[str, SopsSecret] | None = None) -> list[SopsSecret]:
    """The cluster's encrypted Secrets. `read` (file -> its secret) holds the files read and checked
    for other clusters of the fleet, and gets the ones read here: pass one dict for every cluster
    of a fleet (as `LoweringCaches.sops_secrets` does) to read each file once."""
    read = {} if read is None else read
    found: dict[str, SopsSecret] = {}
    declared: dict[tuple[str, str], SopsSecret] = {}
    for instance in fleet.clusters[cluster].instances.values():
        if not instance.values.get("secretEnv"):
            continue
        namespace = instance_namespace(fleet, instance)
        for variable, ref in instance.sops_refs():
            span = _span_of(instance, ("secretEnv", variable))
            secret = found.get(ref.file) or read.get(ref.file) or _load(fleet, ref.file, span)
            read[ref.file] = secret
            _check_reference(secret, ref, namespace, span)
            other = declared.setdefault((secret.namespace, secret.name), secret)
            if other.file != secret.file:
                raise FluxLoweringError(
                    f"cluster {cluster} would get Secret {secret.namespace}/{secret.name} twice: "
                    f"from {other.file} and from {secret.file}", span)
            found[ref.file] = secret
    return [found[file] for file in sorted(found)]


def instance_namespace(fleet: Fleet, instance: Instance) -> str:
    """The app's namespace on a cluster, whichever layer set it: where its objects, and so the
    Secrets it reads, live."""
    return instance.values.get("namespace", fleet.apps[instance.app].namespace)


def env_namespace(fleet: Fleet, env: str, app: str) -> str:
    """The app's namespace in apps/<env>/<app>/: the env's, else the app's own."""
    return fleet.envs[env].app_values.get(app, {}).get("namespace", fleet.apps[app].namespace)


def cluster_namespaces(fleet: Fleet, cluster: str) -> dict[str, str]:
    """App -> its namespace on the cluster (`instance_namespace`)."""
    return {name: instance_namespace(fleet, instance) for name, instance in fleet.clusters[cluster].instances.items()}


EXTERNAL_SECRETS_API = "external-secrets.io/v1"
EXTERNAL_REFRESH = "1h"  # the operator's own default, written out so the file says it


def cluster_external_secrets(fleet: Fleet, cluster: str,
                             sops_secrets: Callable[[str], list[SopsSecret]]) -> list[dict[str, Any]]:
    """The ExternalSecrets of the cluster's `external(...)` references (new dicts); `sops_secrets`
    is `cluster_sops_secrets` of the fleet (`LoweringCaches.sops_secrets`), asked only when the
    cluster has any."""
    wanted: dict[tuple[str, str], _ExternalSecret] = {}  # by (namespace, Secret name)
    for instance in fleet.clusters[cluster].instances.values():
        if not instance.values.get("secretEnv"):  # most apps read no secret
            continue
        namespace = instance_namespace(fleet, instance)
        for variable, ref in instance.secret_refs("external"):
            span = _span_of(instance, ("secretEnv", variable))
            secret = wanted.setdefault((namespace, ref.secret), _ExternalSecret(
                namespace, ref.secret, str(ref.store_kind), str(ref.store), span))
            secret.add(ref, span)
    if wanted:
        _check_single_source(fleet, cluster, wanted, sops_secrets(cluster))
    return [secret.manifest() for _, secret in sorted(wanted.items())]


@dataclass(slots=True)
class _ExternalSecret:
    """One Secret the external-secrets operator fills from one store: its keys' remote values."""

    namespace: str
    name: str
    store_kind: str
    store: str
    span: Span | None  # the first reference to it
    remotes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # key -> (remote, property)

    def add(self, ref: SecretRef, span: Span | None) -> None:
        if (ref.store_kind, ref.store) != (self.store_kind, self.store):
            raise FluxLoweringError(
                f"Secret {self.namespace}/{self.name} is filled from two stores, {self.store_kind} {self.store!r} and "
                f"{ref.store_kind} {ref.store!r}; one ExternalSecret reads one store: use one store or two Secrets", span)
        remote = (ref.remote, ref.property)
        other = self.remotes.setdefault(ref.key, remote)
        if other != remote:
            raise FluxLoweringError(f"key {ref.key!r} of Secret {self.namespace}/{self.name} is read from two remote "
                                    f"values, {_remote_text(other)} and {_remote_text(remote)}", span)

    def manifest(self) -> dict[str, Any]:
        data = []
        for key, (remote, property_) in sorted(self.remotes.items()):
            remote_ref = {"key": remote, **({"property": property_} if property_ else {})}
            data.append({"secretKey": key, "remoteRef": remote_ref})
        return {"apiVersion": EXTERNAL_SECRETS_API, "kind": "ExternalSecret",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"refreshInterval": EXTERNAL_REFRESH,
                         "secretStoreRef": {"kind": self.store_kind, "name": self.store},
                         "target": {"name": self.name, "creationPolicy": "Owner"}, "data": data}}


def _remote_text(remote: tuple[str | None, str | None]) -> str:
    key, property_ = remote
    return repr(key) + (f" (property {property_!r})" if property_ else "")


def _check_single_source(fleet: Fleet, cluster: str, wanted: dict[tuple[str, str], _ExternalSecret],
                         sops: list[SopsSecret]) -> None:
    """No Secret comes from a SOPS file and a store; a secretRef to a filled Secret reads a key it has."""
    for sops_secret in sops:
        secret = wanted.get((sops_secret.namespace, sops_secret.name))
        if secret is not None:
            raise FluxLoweringError(f"Secret {secret.namespace}/{secret.name} would come both from {sops_secret.file} "
                                    f"and from the external store {secret.store!r}; use one of them", secret.span)
    for instance in fleet.clusters[cluster].instances.values():
        namespace = instance_namespace(fleet, instance)
        for variable, ref in instance.secret_refs("secret"):
            secret = wanted.get((namespace, ref.secret))
            if secret is not None and ref.key not in secret.remotes:
                raise FluxLoweringError(
                    f"Secret {namespace}/{ref.secret} is created from the external store {secret.store!r} with the "
                    f"keys {', '.join(sorted(secret.remotes))}, but secretRef(...) reads key {ref.key!r} of it",
                    _span_of(instance, ("secretEnv", variable)))


def _span_of(instance: Instance, path: tuple[str, ...]) -> Span | None:
    origin = instance.origins.get(path)
    return origin.span if origin else None


def _load(fleet: Fleet, file: str | None, span: Span | None) -> SopsSecret:
    path = PurePosixPath(file or "")
    if not file or path.is_absolute() or ".." in path.parts:
        raise FluxLoweringError(f"SOPS file {file!r} must be a relative path inside the program directory", span, code=codes.SOPS_FILE_OUTSIDE_PROGRAM)
    try:
        text = read_program_file(fleet.root / path, f"SOPS file {file}", inside=fleet.root, limit=MAX_SOPS_BYTES).decode("utf-8")
    except UnreadableFile as error:
        raise FluxLoweringError(error.message, span, code=_READ_CODES[error.reason]) from None
    except UnicodeDecodeError as error:
        raise FluxLoweringError(f"SOPS file {file} is not UTF-8 text (byte {error.start})", span) from None
    from ruamel.yaml.error import YAMLError  # a program with SOPS files only: a check without them never loads ruamel

    try:
        docs = _parse(text)
    except YAMLError as error:
        raise FluxLoweringError(f"SOPS file {file} is not YAML: {str(error).splitlines()[0]}", span) from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise FluxLoweringError(f"SOPS file {file} must hold exactly one Secret manifest", span)
    manifest = copy.deepcopy(docs[0])
    if manifest.get("apiVersion") != "v1" or manifest.get("kind") != "Secret":
        raise FluxLoweringError(f"SOPS file {file} must be a v1 Secret manifest", span)
    _check_encrypted(file, text, manifest, span)
    metadata = manifest.get("metadata") or {}
    return SopsSecret(file, text, manifest, str(metadata.get("namespace", "")), str(metadata.get("name", "")))


def _parse(text: str) -> tuple[Any, ...]:
    """The documents of a file."""
    from ruamel.yaml import YAML

    return tuple(doc for doc in YAML(typ="safe", pure=True).load_all(text) if doc is not None)


def _check_encrypted(file: str, text: str, manifest: dict[str, Any], span: Span | None) -> None:
    sops = manifest.get("sops")
    if not isinstance(sops, dict) or not _CIPHERTEXT.match(str(sops.get("mac", ""))):
        raise FluxLoweringError(f"{file} is not SOPS-encrypted (no `sops` block with a MAC); "
                                f"encrypt it with `sops --encrypt --in-place {file}`", span)
    rules = _SopsRules.of(file, sops, span)
    for path, value in _leaves(manifest):
        where = ".".join(map(str, path))
        if _CIPHERTEXT.match(str(value)):
            continue
        if rules.encrypts(path):
            raise FluxLoweringError(f"{file}: {where} is not encrypted, though SOPS would encrypt it under the "
                                    f"file's own rules; a plaintext secret never goes into the repository "
                                    f"(re-encrypt it: `sops --encrypt --in-place {file}`)", span)
        if path[0] != "sops" and isinstance(value, str) and looks_secret(str(path[-1]), value):
            raise FluxLoweringError(f"{file}: {where} reads like a secret, and the file's rules leave it in clear; "
                                    f"move it under the encrypted keys (data, stringData) and re-encrypt", span)
    for line, comment in _comments(text):
        if not _CIPHERTEXT.match(comment) and rules.encrypts_comment(comment):
            raise FluxLoweringError(f"{file}:{line}: a comment in clear text, though SOPS would encrypt it; "
                                    f"comments of an encrypted file may hold secrets too (re-encrypt the file)", span)


@dataclass(frozen=True, slots=True)
class _SopsRules:
    """Which values `sops --encrypt` encrypts, from the rules the file's `sops` block records.

    As sops' `shouldBeEncrypted`: the stages run in this order, each overriding the last, and
    test every key on a value's path (a parent named `x_unencrypted` exempts its subtree) with
    an unanchored regex search. With none of the four key rules set, sops uses the suffix
    `_unencrypted`. The `sops` block itself is never encrypted. `mac_only_encrypted` only
    changes what the MAC covers, not what is encrypted. Comments are encrypted unless
    `unencrypted_comment_regex` matches them, or `encrypted_comment_regex` is set and does not;
    under an `encrypted_regex` or `encrypted_suffix` a comment is kept in clear by sops only
    when it sits outside the encrypted keys, which is not told apart here: such a comment is
    reported only when it reads like a secret (`plaintext.comment_reads_secret`).
    A value the rules leave in clear is reported when it reads like a secret
    (`plaintext.looks_secret`): an annotation with a password is in the repository in clear."""

    unencrypted_suffix: str | None
    encrypted_suffix: str | None
    unencrypted_regex: re.Pattern[str] | None
    encrypted_regex: re.Pattern[str] | None
    unencrypted_comment_regex: re.Pattern[str] | None
    encrypted_comment_regex: re.Pattern[str] | None

    @classmethod
    def of(cls, file: str, sops: dict[str, Any], span: Span | None) -> _SopsRules:
        def regex(name: str) -> re.Pattern[str] | None:
            if not sops.get(name):
                return None
            try:
                return compile_pattern(str(sops[name]))  # sops is written in Go: its regexes read as Go's
            except (re.error, OverflowError, RecursionError) as error:
                raise FluxLoweringError(f"{file}: sops.{name} is not a regular expression: {error}", span) from None

        suffixes = {name: str(sops[name]) if sops.get(name) else None
                     for name in ("unencrypted_suffix", "encrypted_suffix")}
        key_rules = (suffixes["unencrypted_suffix"], suffixes["encrypted_suffix"],
                     sops.get("unencrypted_regex"), sops.get("encrypted_regex"))
        if not any(key_rules):
            suffixes["unencrypted_suffix"] = "_unencrypted"
        return cls(suffixes["unencrypted_suffix"], suffixes["encrypted_suffix"], regex("unencrypted_regex"),
                   regex("encrypted_regex"), regex("unencrypted_comment_regex"), regex("encrypted_comment_regex"))

    def encrypts(self, path: tuple[Any, ...]) -> bool:
        keys = [str(key) for key in path if not isinstance(key, int)]
        if keys[:1] == ["sops"]:
            return False
        encrypted = True
        if self.unencrypted_suffix and any(key.endswith(self.unencrypted_suffix) for key in keys):
            encrypted = False
        if self.encrypted_suffix:
            encrypted = any(key.endswith(self.encrypted_suffix) for key in keys)
        if self.unencrypted_regex and any(self.unencrypted_regex.search(key) for key in keys):
            encrypted = False
        if self.encrypted_regex:
            encrypted = any(self.encrypted_regex.search(key) for key in keys)
        return encrypted

    def encrypts_comment(self, comment: str) -> bool:
        if self.unencrypted_comment_regex and self.unencrypted_comment_regex.search(comment):
            return False
        if self.encrypted_comment_regex:
            return bool(self.encrypted_comment_regex.search(comment))
        if self.encrypted_suffix or self.encrypted_regex:
            return comment_reads_secret(comment)
        return True


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, scalar) of every scalar in a YAML tree; list items have their index in the path."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, path + (key,))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, path + (index,))]
    return [] if value is None else [(path, value)]


_BLOCK_SCALAR = re.compile(r"[:-]\s*[|>][-+0-9]*\s*$")


def _comments(text: str) -> list[tuple[int, str]]:
    """(line number, text after `#`) of every YAML comment of a file: a `#` at the start of a
    line or after a blank, outside quotes and block scalars (`key: |` and the lines indented
    deeper below it)."""
    found = []
    block_indent: int | None = None  # the indentation of the line that opened a block scalar
    for number, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        start = _comment_start(line)
        if start is not None:
            found.append((number, line[start + 1:].strip()))
            line = line[:start]
        if _BLOCK_SCALAR.search(line.rstrip()):
            block_indent = indent
    return found


def _comment_start(line: str) -> int | None:
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return None


def _check_reference(secret: SopsSecret, ref: SecretRef, namespace: str, span: Span | None) -> None:
    if secret.name != ref.secret:
        raise FluxLoweringError(f"{secret.file} declares Secret {secret.name!r}, but the app reads Secret "
                                f"{ref.secret!r}", span)
    if secret.namespace != namespace:
        raise FluxLoweringError(f"{secret.file} must set metadata.namespace: {namespace} (the app's namespace); "
                                f"it says {secret.namespace or 'nothing'}, and an encrypted file cannot be "
                                f"rewritten without breaking its MAC", span)
    keys = set(secret.manifest.get("data") or {}) | set(secret.manifest.get("stringData") or {})
    if ref.key not in keys:
        raise FluxLoweringError(f"{secret.file} has no key {ref.key!r} (it has: {', '.join(sorted(keys)) or 'none'})",
                                span)
