"""SOPS-encrypted Secret manifests that the apps of one cluster read.

Input: a `Fleet` and a cluster name. Every effective `secretEnv` value of kind "sops"
names an encrypted Secret manifest (a path relative to `fleet.root`).
Output: one `SopsSecret` per distinct file the cluster needs, sorted by path, each with
the file's text verbatim and the directory of the repository it is copied to.

Invariants:
- Nothing that is not SOPS-encrypted leaves this module: the file must be a single
  `v1 Secret` with a `sops` block carrying a MAC, and every value under `data` and
  `stringData` must be an `ENC[...]` ciphertext; otherwise `FluxLoweringError`.
- The manifest names the Secret the app reads (`metadata.name` == the reference's
  secret, the referenced key exists) in the app's namespace, and says so itself: the
  file is never rewritten, because the SOPS MAC covers its plaintext metadata too.
- One cluster never gets two files declaring the same Secret.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..model import Fleet, Instance
from ..span import Span
from ..types import SecretRef
from .errors import FluxLoweringError

SECRETS_DIR = "secrets"
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


def cluster_sops_secrets(fleet: Fleet, cluster: str) -> list[SopsSecret]:
    """The cluster's encrypted Secrets. The check, the file tree and every render ask for each
    cluster, so the answers for the last fleet asked about are kept (it does not change)."""
    global _KNOWN
    last = _KNOWN
    if last is not None and last[0] is fleet:
        known = last[1]
    else:
        known = {}
        _KNOWN = (fleet, known)
    if cluster not in known:
        known[cluster] = _cluster_sops_secrets(fleet, cluster)
    return list(known[cluster])


_KNOWN: tuple[Fleet, dict[str, list[SopsSecret]]] | None = None


def _cluster_sops_secrets(fleet: Fleet, cluster: str) -> list[SopsSecret]:
    found: dict[str, SopsSecret] = {}
    declared: dict[tuple[str, str], SopsSecret] = {}
    for instance in fleet.clusters[cluster].instances.values():
        if not instance.values.get("secretEnv"):
            continue
        namespace = fleet.apps[instance.app].namespace
        for variable, ref in instance.sops_refs():
            span = _span_of(instance, ("secretEnv", variable))
            secret = found.get(ref.file) or _load(fleet, ref.file, span)
            _check_reference(secret, ref, namespace, span)
            other = declared.setdefault((secret.namespace, secret.name), secret)
            if other.file != secret.file:
                raise FluxLoweringError(
                    f"cluster {cluster} would get Secret {secret.namespace}/{secret.name} twice: "
                    f"from {other.file} and from {secret.file}", span)
            found[ref.file] = secret
    return [found[file] for file in sorted(found)]


def _span_of(instance: Instance, path: tuple[str, ...]) -> Span | None:
    origin = instance.origins.get(path)
    return origin.span if origin else None


def _load(fleet: Fleet, file: str | None, span: Span | None) -> SopsSecret:
    path = PurePosixPath(file or "")
    if not file or path.is_absolute() or ".." in path.parts:
        raise FluxLoweringError(f"SOPS file {file!r} must be a relative path inside the program directory", span)
    try:
        text = (fleet.root / path).read_text(encoding="utf-8")
    except (OSError, ValueError) as error:  # ValueError: not UTF-8, or a NUL in the name
        raise FluxLoweringError(f"cannot read SOPS file {file}: {getattr(error, 'strerror', None) or error}", span) from None
    try:
        docs = _parse(text)
    except YAMLError as error:
        raise FluxLoweringError(f"SOPS file {file} is not YAML: {str(error).splitlines()[0]}", span) from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise FluxLoweringError(f"SOPS file {file} must hold exactly one Secret manifest", span)
    manifest = copy.deepcopy(docs[0])
    if manifest.get("apiVersion") != "v1" or manifest.get("kind") != "Secret":
        raise FluxLoweringError(f"SOPS file {file} must be a v1 Secret manifest", span)
    _check_encrypted(file, manifest, span)
    metadata = manifest.get("metadata") or {}
    return SopsSecret(file, text, manifest, str(metadata.get("namespace", "")), str(metadata.get("name", "")))


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> tuple[Any, ...]:
    """The documents of a file (cached: every cluster that uses a file reads it)."""
    return tuple(doc for doc in YAML(typ="safe", pure=True).load_all(text) if doc is not None)


def _check_encrypted(file: str, manifest: dict[str, Any], span: Span | None) -> None:
    sops = manifest.get("sops")
    if not isinstance(sops, dict) or not _CIPHERTEXT.match(str(sops.get("mac", ""))):
        raise FluxLoweringError(f"{file} is not SOPS-encrypted (no `sops` block with a MAC); "
                                f"encrypt it with `sops --encrypt --in-place {file}`", span)
    for field in ("data", "stringData"):
        for key, value in (manifest.get(field) or {}).items():
            if not _CIPHERTEXT.match(str(value)):
                raise FluxLoweringError(f"{file}: {field}.{key} is not encrypted; a plaintext secret "
                                        f"never goes into the repository", span)


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
