"""`external(...)` secret references become external-secrets.io/v1 ExternalSecrets.

Each is checked against the schema of the npm package @kubernetes-models/external-secrets
(installed by `make external-secrets-schema`, run with node), built with `kubectl kustomize`
from the cluster's tree, equal to what `render` prints, and filling exactly the Secret keys
the chart's Deployment reads. Two sources for one Secret or one key are E0701 at the reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from e2e import kustomize_all, write_bootstrap_stand_ins
from fleet_fixtures import CHECKOUT_DB_SOPS

import realtools as rt
from gop.compiler import cli
from gop.compiler.session import analyse
from gop.compiler.lower.flux import render_cluster, repository_files

FLEET = """\
labels { environment: "dev" | "prod" }
source flux-system { url = "https://github.com/acme/fleet" }
env dev where environment == "dev" {
  app api { secretEnv { SIGNING_KEY = external(store = "vault-dev", remote = "api/signing", secret = "api-keys", key = "signing") } }
}
env prod where environment == "prod" {}
cluster dev-1 { labels { environment = "dev" } }
cluster prod-1 { labels { environment = "prod" } }

app api {
  image { repository = "ghcr.io/acme/api", tag = "1.0.0" }
  ports { http = 8080 }
  secretEnv {
    DB_PASSWORD = external(store = "vault", remote = "shop/db", secret = "api-db", key = "password", property = "password")
    DB_USER = external(store = "vault", remote = "shop/db", secret = "api-db", key = "user", property = "user")
    SIGNING_KEY = external(store = "vault", storeKind = "SecretStore", remote = "api/signing", secret = "api-keys", key = "signing")
  }
}

app worker {
  image { repository = "ghcr.io/acme/worker", tag = "1.0.0" }
  namespace = "api"
  secretEnv { DB_PASSWORD = secretRef(secret = "api-db", key = "password") }
}
"""


def _analysed(root: Path, text: str):
    root.mkdir(parents=True, exist_ok=True)
    (root / "fleet.gop").write_text(text, encoding="utf-8")
    return analyse([root])


def _external_secret(name: str, kind: str, store: str, data: list[dict]) -> dict:
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": "api"},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": kind, "name": store},
                     "target": {"name": name, "creationPolicy": "Owner"}, "data": data}}


DB = _external_secret("api-db", "ClusterSecretStore", "vault", [
    {"secretKey": "password", "remoteRef": {"key": "shop/db", "property": "password"}},
    {"secretKey": "user", "remoteRef": {"key": "shop/db", "property": "user"}}])
EXPECTED = {
    # the env replaces the whole reference: its store, and the default kind
    "dev-1": [DB, _external_secret("api-keys", "ClusterSecretStore", "vault-dev",
                                   [{"secretKey": "signing", "remoteRef": {"key": "api/signing"}}])],
    "prod-1": [DB, _external_secret("api-keys", "SecretStore", "vault",
                                    [{"secretKey": "signing", "remoteRef": {"key": "api/signing"}}])],
}


def test_external_references_become_external_secrets_that_validate_build_and_render(tmp_path):
    analysis = _analysed(tmp_path / "program", FLEET)
    assert not analysis.diagnostics
    fleet = analysis.fleet
    tree = tmp_path / "out"
    files = repository_files(fleet)
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text, encoding="utf-8")
    write_bootstrap_stand_ins(tree, fleet.clusters)
    builds = kustomize_all(tree, files)  # every kustomization of the tree builds
    for cluster, expected in EXPECTED.items():
        built = [d for d in builds[f"clusters/{cluster}/apps"] if d["kind"] == "ExternalSecret"]
        assert built == expected, cluster
        assert rt.external_secrets_validate(built) == 2
        rendered = render_cluster(fleet, cluster)
        assert [d for d in rendered if d["kind"] == "ExternalSecret"] == expected
        # every Secret key a Deployment reads is one an ExternalSecret fills
        filled = {(d["spec"]["target"]["name"], item["secretKey"]) for d in expected for item in d["spec"]["data"]}
        read = {(env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
                for d in rendered if d["kind"] == "Deployment" and d["metadata"]["namespace"] == "api"
                for container in d["spec"]["template"]["spec"]["containers"] for env in container.get("env", [])
                if "secretKeyRef" in env.get("valueFrom", {})}
        assert read == filled | {("api-db", "password")} and read >= filled, cluster


def test_gopc_render_prints_the_external_secrets(tmp_path, capsys):
    root = tmp_path / "program"
    _analysed(root, FLEET)
    assert cli.main(["render", str(root), "--cluster", "prod-1"]) == 0
    printed = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d and d["kind"] == "ExternalSecret"]
    assert printed == EXPECTED["prod-1"]


def test_the_schema_check_rejects_a_wrong_external_secret():
    wrong = _external_secret("api-db", "Vault", "vault", [{"secretKey": "password"}])
    with pytest.raises(rt.ValidationFailed, match="secretStoreRef/kind") as raised:
        rt.external_secrets_validate([wrong])
    assert "remoteRef" in str(raised.value)


def _diagnostics(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> list[tuple[str, int, int, str]]:
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    analysis = _analysed(tmp_path, text)
    found = []
    for d in analysis.diagnostics:
        position = analysis.program.sources[d.span.file].position(d.span.start)
        found.append((d.code, position.line + 1, position.column + 1, d.message))
    return found


HEAD = """\
labels { environment: "dev" }
source flux-system { url = "https://github.com/acme/fleet" }
env dev where environment == "dev" {}
cluster dev-1 { labels { environment = "dev" } }
app api {
  image { repository = "ghcr.io/acme/api", tag = "1.0.0" }
  namespace = "shop"
"""

CONFLICTS = {
    "two stores": (
        '  secretEnv {\n'
        '    A = external(store = "vault", remote = "a", secret = "s", key = "a")\n'
        '    B = external(store = "aws", remote = "b", secret = "s", key = "b")\n  }\n}\n',
        (10, 5), "Secret shop/s is filled from two stores"),
    "two remotes for a key": (
        '  secretEnv {\n'
        '    A = external(store = "vault", remote = "a", secret = "s", key = "k")\n'
        '    B = external(store = "vault", remote = "b", secret = "s", key = "k")\n  }\n}\n',
        (10, 5), "key 'k' of Secret shop/s is read from two remote values, 'a' and 'b'"),
    "a SOPS file and a store": (
        '  secretEnv {\n'
        '    A = sops("secrets/checkout-db.enc.yaml", secret = "checkout-db", key = "password")\n'
        '    B = external(store = "vault", remote = "b", secret = "checkout-db", key = "password")\n  }\n}\n',
        (10, 5), "Secret shop/checkout-db would come both from secrets/checkout-db.enc.yaml and from the external store"),
    "a secretRef to a key no store fills": (
        '  secretEnv {\n'
        '    A = external(store = "vault", remote = "a", secret = "s", key = "a")\n'
        '    B = secretRef(secret = "s", key = "b")\n  }\n}\n',
        (10, 5), "Secret shop/s is created from the external store 'vault' with the keys a, but secretRef(...) reads key 'b'"),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_two_sources_for_one_secret_are_an_error_at_the_reference(tmp_path, case):
    body, (line, col), message = CONFLICTS[case]
    found = _diagnostics(tmp_path, HEAD + body, {"secrets/checkout-db.enc.yaml": CHECKOUT_DB_SOPS})
    assert [(code, ln, cl) for code, ln, cl, _ in found] == [("E0701", line, col)]
    assert message in found[0][3]


def test_store_kind_is_typed(tmp_path):
    body = ('  secretEnv { A = external(store = "vault", storeKind = "Vault", remote = "a", secret = "s", key = "a") }\n'
            '}\n')
    found = _diagnostics(tmp_path, HEAD + body)
    assert [(code, ln, cl) for code, ln, cl, _ in found] == [("E0308", 8, 57)]
