"""`gopc init`: the starter program checks clean, builds, and its output is accepted by the real tools."""

from __future__ import annotations

from gop.compiler.cli import main
from realtools import flux_validate, helm_lint_strict, is_flux_doc, kubectl_kustomize, validate_manifests


def test_starter_checks_builds_and_validates(tmp_path, capsys):
    program, out = tmp_path / "fleet", tmp_path / "out"
    assert main(["init", str(program)]) == 0
    assert main(["check", str(program)]) == 0
    assert main(["build", str(program), "-o", str(out)]) == 0
    assert capsys.readouterr().err.count("error") == 0
    helm_lint_strict(out / "charts" / "hello")
    for cluster in ("dev-1", "prod-1"):
        # `flux bootstrap` adds the controllers' manifest; a Namespace stands in for it.
        (out / "clusters" / cluster / "flux-system" / "gotk-components.yaml").write_text(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n")
        docs = kubectl_kustomize(out / "clusters" / cluster)
        assert flux_validate([d for d in docs if is_flux_doc(d)]) > 0
        apps = kubectl_kustomize(out / "clusters" / cluster / "apps")
        validate_manifests(apps)
        assert any(d["kind"] == "HelmRelease" and d["metadata"]["name"] == "hello" for d in apps)


def test_init_never_overwrites(tmp_path, capsys):
    (tmp_path / "apps.gop").write_text("// mine\n")
    assert main(["init", str(tmp_path)]) == 2
    assert (tmp_path / "apps.gop").read_text() == "// mine\n"
    assert not (tmp_path / "fleet.gop").exists()
    assert "not overwriting" in capsys.readouterr().err
