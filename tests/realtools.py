"""Helpers that run the real tools the generated output must satisfy.

- helm v4 and kubectl (with kustomize v5) from `.tools/bin` (`make tools`; override: GOP_TOOLS_BIN)
- kubernetes-validate (PyPI) in strict mode for core Kubernetes objects
- the Flux CRD JSON Schemas (tests/vendor/flux_schemas; override: GOP_FLUX_SCHEMAS)
- Debian's `docker-registry` as a throwaway OCI registry (`start_oci_registry`)
- the ExternalSecret schema of the npm package @kubernetes-models/external-secrets, installed
  into `.tools/external-secrets` (`make external-secrets-schema`; override: GOP_EXTERNAL_SECRETS),
  run with node (the package ships its schemas as compiled validator modules)

A missing tool is an error, never a skip: CI must not go green without running these checks.
Every helper raises `ToolError` (a failed command, with its stderr) or `ValidationFailed`
(an AssertionError listing every problem) and returns parsed YAML documents on success.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = Path(os.environ.get("GOP_TOOLS_BIN") or REPO_ROOT / ".tools" / "bin")
VENDORED_FLUX_SCHEMAS = Path(__file__).resolve().parent / "vendor" / "flux_schemas"
SHARED_FLUX_SCHEMAS = REPO_ROOT.parent / "shared" / "schemas" / "flux"
FLUX_SCHEMAS = Path(os.environ.get("GOP_FLUX_SCHEMAS") or VENDORED_FLUX_SCHEMAS)

EXTERNAL_SECRETS = Path(os.environ.get("GOP_EXTERNAL_SECRETS") or REPO_ROOT / ".tools" / "external-secrets")
EXTERNAL_SECRETS_VALIDATOR = Path(__file__).resolve().parent / "validate_external_secrets.mjs"

# Kubernetes version the generated manifests target (kubectl/helm in .tools are 1.35 clients).
K8S_VERSION = "1.35"
TIMEOUT = 180  # seconds per tool invocation

Doc = dict[str, Any]


class ToolMissing(RuntimeError):
    """A required external tool is not installed (run `make tools` / `make system-deps`)."""


class ToolError(RuntimeError):
    """An external command exited non-zero."""

    def __init__(self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str):
        self.cmd, self.returncode, self.stdout, self.stderr = list(cmd), returncode, stdout, stderr
        super().__init__(
            f"`{' '.join(map(str, cmd))}` exited {returncode}\n"
            f"--- stderr ---\n{stderr.strip()}\n--- stdout ---\n{stdout.strip()[-4000:]}"
        )


class ValidationFailed(AssertionError):
    """Documents failed schema validation; `.errors` lists one message per problem."""

    def __init__(self, what: str, errors: list[str]):
        self.errors = errors
        super().__init__(f"{what}: {len(errors)} error(s)\n  " + "\n  ".join(errors))


# ------------------------------------------------------------------ running tools

def tool_path(name: str) -> Path:
    """Path of `.tools/bin/<name>`; raises ToolMissing (not a skip) if it is absent."""
    path = TOOLS_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolMissing(f"{path} not found: run `make tools` (tests never skip a missing tool)")
    return path


def helm_bin() -> Path:
    return tool_path("helm")


def kubectl_bin() -> Path:
    return tool_path("kubectl")


_scratch: Path | None = None


def _scratch_dir() -> Path:
    """A private per-process directory for helm's cache/config/data (never ~/.cache/helm)."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="gop-realtools-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def tool_env() -> dict[str, str]:
    scratch = _scratch_dir()
    env = dict(os.environ)
    env.update(
        HELM_CACHE_HOME=str(scratch / "helm-cache"),
        HELM_CONFIG_HOME=str(scratch / "helm-config"),
        HELM_DATA_HOME=str(scratch / "helm-data"),
        KUBECONFIG=str(scratch / "no-kubeconfig"),  # never talk to a real cluster
        NO_PROXY=",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"])),
        no_proxy=",".join(filter(None, [env.get("no_proxy"), "127.0.0.1", "localhost"])),
    )
    return env


def run_tool(cmd: Sequence[str | os.PathLike], *, cwd: str | os.PathLike | None = None,
             timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run a command with the isolated tool environment; raise ToolError on a non-zero exit."""
    argv = [str(c) for c in cmd]
    proc = subprocess.run(argv, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ToolError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def parse_docs(text: str) -> list[Doc]:
    """Parse multi-document YAML, dropping empty documents."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


# ------------------------------------------------------------------ helm

def helm_lint_strict(chart_dir: str | os.PathLike, values_files: Iterable[str | os.PathLike] = ()) -> str:
    """`helm lint --strict CHART [-f values]...`; returns helm's output, raises ToolError on a finding."""
    cmd: list[Any] = [helm_bin(), "lint", "--strict", chart_dir]
    for v in values_files:
        cmd += ["--values", v]
    return run_tool(cmd).stdout


def helm_template(chart: str | os.PathLike, values_files: Iterable[str | os.PathLike] = (),
                  release: str = "release", namespace: str = "default", *,
                  version: str | None = None, plain_http: bool = False,
                  set_values: dict[str, str] | None = None, extra_args: Sequence[str] = ()) -> list[Doc]:
    """`helm template RELEASE CHART` for a chart dir, .tgz or `oci://` ref; returns the rendered docs."""
    cmd: list[Any] = [helm_bin(), "template", release, chart, "--namespace", namespace]
    for v in values_files:
        cmd += ["--values", v]
    for k, v in (set_values or {}).items():
        cmd += ["--set", f"{k}={v}"]
    if version is not None:
        cmd += ["--version", version]
    if plain_http:
        cmd.append("--plain-http")
    cmd += list(extra_args)
    return parse_docs(run_tool(cmd).stdout)


def helm_create(name: str, parent_dir: str | os.PathLike) -> Path:
    """`helm create NAME` inside parent_dir (helm's starter chart); returns the chart dir."""
    run_tool([helm_bin(), "create", name], cwd=parent_dir)
    return Path(parent_dir) / name


def helm_package(chart_dir: str | os.PathLike, dest_dir: str | os.PathLike) -> Path:
    """`helm package CHART -d DEST`; returns the .tgz path."""
    before = set(Path(dest_dir).glob("*.tgz"))
    run_tool([helm_bin(), "package", chart_dir, "--destination", dest_dir])
    new = sorted(set(Path(dest_dir).glob("*.tgz")) - before)
    if len(new) != 1:
        raise RuntimeError(f"helm package wrote {new!r} in {dest_dir}")
    return new[0]


def helm_push(chart_tgz: str | os.PathLike, oci_repo: str, *, plain_http: bool = True) -> str:
    """`helm push CHART.tgz oci://HOST/REPO` (plain HTTP by default, for the test registry)."""
    cmd: list[Any] = [helm_bin(), "push", chart_tgz, oci_repo]
    if plain_http:
        cmd.append("--plain-http")
    proc = run_tool(cmd)
    return proc.stdout + proc.stderr  # helm prints "Pushed: ..." / "Digest: ..." on stderr


# ------------------------------------------------------------------ kustomize

def kubectl_kustomize(directory: str | os.PathLike, *, extra_args: Sequence[str] = ()) -> list[Doc]:
    """`kubectl kustomize DIR` (kustomize v5); returns the built docs."""
    return parse_docs(run_tool([kubectl_bin(), "kustomize", directory, *extra_args]).stdout)


# ------------------------------------------------------------------ kubernetes-validate

def _doc_name(doc: Any) -> str:
    if not isinstance(doc, dict):
        return repr(doc)[:60]
    meta = doc.get("metadata") or {}
    return f"{doc.get('apiVersion')}/{doc.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}"


def kubernetes_validate_strict(docs: Iterable[Doc], version: str = K8S_VERSION) -> int:
    """Validate core Kubernetes objects with kubernetes-validate in strict mode (unknown fields fail).

    A kind without a schema (what its CLI reports as WARN, e.g. a CRD) is a failure too.
    Returns the number of documents validated; raises ValidationFailed listing every bad document.
    Note: these schemas do not check enums (imagePullPolicy) or quantity strings.
    """
    import kubernetes_validate as kv

    errors: list[str] = []
    count = 0
    for doc in docs:
        count += 1
        name = _doc_name(doc)
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            errors.append(f"{name}: not a Kubernetes object (needs apiVersion and kind)")
            continue
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{name}: .{path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            errors.append(f"{name}: {e.message}")
        except kv.utils.VersionNotSupportedError as e:
            raise ValueError(f"kubernetes-validate {kv.__version__}: {e.message}") from None
    if errors:
        raise ValidationFailed(f"kubernetes-validate --strict (k8s {version})", errors)
    return count


def kubernetes_versions() -> list[str]:
    """Kubernetes versions whose schemas the installed kubernetes-validate ships."""
    from kubernetes_validate.utils import all_versions

    return sorted(set(all_versions()), key=lambda v: tuple(map(int, v.split("."))))


# ------------------------------------------------------------------ Flux schemas

_flux_module = None


def _flux_validator():
    """Import validate.py from FLUX_SCHEMAS (vendored copy unless GOP_FLUX_SCHEMAS is set)."""
    global _flux_module
    if _flux_module is None:
        path = FLUX_SCHEMAS / "validate.py"
        if not path.is_file() or not (FLUX_SCHEMAS / "jsonschema" / "index.json").is_file():
            raise ToolMissing(f"Flux schemas not found at {FLUX_SCHEMAS} (set GOP_FLUX_SCHEMAS)")
        spec = importlib.util.spec_from_file_location("_gop_flux_validate", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.INDEX = module.load_index()
        _flux_module = module
    return _flux_module


def is_flux_doc(doc: Any) -> bool:
    """True for objects of a Flux API group (*.toolkit.fluxcd.io, *.extensions.fluxcd.io)."""
    api = doc.get("apiVersion", "") if isinstance(doc, dict) else ""
    return "/" in api and api.split("/", 1)[0].endswith(".fluxcd.io")


def flux_validate(docs: Iterable[Doc], *, allow_non_flux: bool = False) -> int:
    """Validate Flux objects against the Flux CRD JSON Schemas (strict: unknown fields fail).

    A Flux apiVersion that is not served (e.g. helm.toolkit.fluxcd.io/v2beta1) always fails.
    Non-Flux documents fail too unless allow_non_flux=True (then they are skipped).
    Returns the number of Flux documents validated; raises ValidationFailed.
    """
    mod = _flux_validator()
    errors: list[str] = []
    count = 0
    for doc in docs:
        if allow_non_flux and not is_flux_doc(doc):
            continue
        count += 1
        errors += [f"{_doc_name(doc)}: {e}" for e in mod.errors_for(doc, mod.INDEX)]
    if errors:
        raise ValidationFailed(f"Flux schemas ({FLUX_SCHEMAS})", errors)
    return count


def external_secrets_validate(docs: Iterable[Doc]) -> int:
    """Validate external-secrets.io/v1 ExternalSecrets against the package's schema (node).
    Returns the number validated; raises ValidationFailed listing every problem."""
    docs = list(docs)
    node = shutil.which("node")
    if node is None or not (EXTERNAL_SECRETS / "node_modules").is_dir():
        raise ToolMissing(f"node or {EXTERNAL_SECRETS} not found: run `make external-secrets-schema`")
    proc = subprocess.run([node, str(EXTERNAL_SECRETS_VALIDATOR), str(EXTERNAL_SECRETS)], input=json.dumps(docs),
                          capture_output=True, text=True, timeout=TIMEOUT, env=tool_env())
    if proc.returncode != 0:
        raise ToolError([node, str(EXTERNAL_SECRETS_VALIDATOR)], proc.returncode, proc.stdout, proc.stderr)
    errors = [f"{_doc_name(doc)}: {problem}" for doc, problems in zip(docs, json.loads(proc.stdout)) if problems
              for problem in problems]
    if errors:
        raise ValidationFailed(f"ExternalSecret schema ({EXTERNAL_SECRETS})", errors)
    return len(docs)


def validate_manifests(docs: Iterable[Doc], version: str = K8S_VERSION) -> None:
    """Validate a mixed stream: Flux objects by the Flux schemas, the rest by kubernetes-validate.

    Both validators run before raising, so one failure lists every problem.
    """
    docs = list(docs)
    flux = [d for d in docs if is_flux_doc(d)]
    core = [d for d in docs if not is_flux_doc(d)]
    errors: list[str] = []
    checks = [lambda: flux_validate(flux), lambda: kubernetes_validate_strict(core, version)]
    for check in checks:
        try:
            check()
        except ValidationFailed as e:
            errors += e.errors
    if errors:
        raise ValidationFailed("manifests", errors)


# ------------------------------------------------------------------ OCI registry

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_status(url: str) -> int | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


@dataclass
class OciRegistry:
    """A running Debian `docker-registry` (distribution v2) on 127.0.0.1, no auth, plain HTTP."""

    proc: subprocess.Popen
    host: str  # "127.0.0.1:PORT"
    workdir: Path
    log_path: Path
    _log: Any = field(repr=False, default=None)

    def url(self, repo: str = "") -> str:
        return f"oci://{self.host}/{repo}".rstrip("/")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: gop-test-registry
health:
  storagedriver:
    enabled: false
"""


def start_oci_registry(workdir: str | os.PathLike, *, timeout: float = 20.0, attempts: int = 3) -> OciRegistry:
    """Start `docker-registry serve` with storage under workdir; wait until GET /v2/ answers 200."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.access(binary, os.X_OK):
        raise ToolMissing("docker-registry not found: run `make system-deps` (Debian package docker-registry)")
    workdir = Path(workdir)
    last = ""
    for attempt in range(attempts):  # a free port can be taken between bind() and the registry's listen()
        port = free_port()
        (workdir / "storage").mkdir(parents=True, exist_ok=True)
        config = workdir / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(root=workdir / "storage", port=port))
        log_path = workdir / f"registry-{attempt}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=tool_env())
        reg = OciRegistry(proc, f"127.0.0.1:{port}", workdir, log_path, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _http_status(f"http://127.0.0.1:{port}/v2/") == 200:
                return reg
            time.sleep(0.05)
        reg.stop()
        last = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"docker-registry did not come up after {attempts} attempts:\n{last}")


# ------------------------------------------------------------------ the project as a package source

PACKAGE_SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "compiler", "lsp", "grammar", "stdlib")


def copy_package_sources(target: Path, extra: Sequence[str] = ()) -> Path:
    """What pip needs to build gopc (and `extra` files of the repository), copied into `target`."""
    for name in (*PACKAGE_SOURCES, *extra):
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target
