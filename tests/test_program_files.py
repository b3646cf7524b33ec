"""Reading the program's own files (compiler/syntax/readfile.py, used by the loader, `gopc fmt` and
the SOPS lowering): only regular files, inside the program directory after resolving
symlinks, of a bounded size; everything else is a diagnostic with a code at the place that
names the file, and `check` never hangs (the cases that used to hang run in a subprocess
with a timeout).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fleet_fixtures import CHECKOUT_DB_SOPS

from gop.compiler.semantic import loader
from gop.compiler.lower.repository import repository
from gop.compiler.session import analyse
from gop.compiler.lower.flux import secrets

GOPC = Path(sys.executable).with_name("gopc")
NEVER_HANGS = 60  # seconds: far above a check of these programs, far below forever

PROGRAM = """\
source flux-system { url = "https://github.com/acme/fleet", branch = "main" }
labels { environment: "dev" | "prod" }
env dev where environment == "dev" { }
cluster dev-1 { labels { environment = "dev" } }
app checkout {
  namespace = "shop"
  image { repository = "ghcr.io/acme/checkout", tag = "1.0.0" }
  secretEnv {
    DB_PASSWORD = sops("SOPS_PATH", secret = "checkout-db", key = "password")
  }
}
"""
SECRET_LINE = PROGRAM.splitlines().index('    DB_PASSWORD = sops("SOPS_PATH", secret = "checkout-db", key = "password")') + 1
SECRET_COLUMN = 5
OUTSIDE_TEXT = "hunter2-outside-the-program"


def program_with_secret(root: Path, sops_path: str = "secrets/db.enc.yaml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "fleet.gop").write_text(PROGRAM.replace("SOPS_PATH", sops_path), encoding="utf-8")
    return root


def gopc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(GOPC), *args], cwd=cwd, capture_output=True, text=True, timeout=NEVER_HANGS)


def only_diagnostic(root: Path):
    analysis = analyse([root])
    assert len(analysis.diagnostics) == 1, [(d.code, d.message) for d in analysis.diagnostics]
    found = analysis.diagnostics[0]
    position = analysis.program.sources[found.span.file].position(found.span.start)
    return found, (Path(found.span.file).name, position.line + 1, position.column + 1)


def outside_secret(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS + f"# {OUTSIDE_TEXT}\n", encoding="utf-8")
    return outside


# ---------------------------------------------------------------- SOPS files

def test_a_sops_file_inside_the_program_through_a_symlink_is_read(tmp_path):
    root = program_with_secret(tmp_path / "fleet")
    (root / "vault").mkdir()
    (root / "vault" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    (root / "secrets").symlink_to("vault")
    analysis = analyse([root])
    assert analysis.diagnostics == []
    files, problems = repository(analysis)
    assert problems == [] and files["secrets/secrets/db.enc/db.enc.yaml"] == CHECKOUT_DB_SOPS


@pytest.mark.parametrize("link", ["file", "directory"])
def test_a_sops_path_that_leaves_the_program_through_a_symlink_is_e0710(tmp_path, link):
    outside = outside_secret(tmp_path)
    root = program_with_secret(tmp_path / "fleet")
    if link == "file":
        (root / "secrets").mkdir()
        (root / "secrets" / "db.enc.yaml").symlink_to(outside / "db.enc.yaml")
    else:
        (root / "secrets").symlink_to(outside)
    found, where = only_diagnostic(root)
    assert (found.code, where) == ("E0710", ("fleet.gop", SECRET_LINE, SECRET_COLUMN))
    assert f"leads to {outside / 'db.enc.yaml'}, outside the directory" in found.message
    run = gopc("build", str(root), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 1 and "error[E0710]" in run.stderr and not (tmp_path / "out").exists()
    assert OUTSIDE_TEXT not in run.stderr


def test_a_sops_path_with_a_nul_character_is_e0710(tmp_path):
    root = program_with_secret(tmp_path / "fleet", "secrets/db\\u{0}.enc.yaml")
    found, where = only_diagnostic(root)
    assert (found.code, where) == ("E0710", ("fleet.gop", SECRET_LINE, SECRET_COLUMN))
    assert "contains a NUL character" in found.message


def test_a_sops_path_naming_a_fifo_is_e0711_and_check_does_not_wait_on_it(tmp_path):
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    os.mkfifo(root / "secrets" / "db.enc.yaml")
    run = gopc("check", str(root), cwd=tmp_path)
    assert run.returncode == 1
    assert f"fleet.gop:{SECRET_LINE}:{SECRET_COLUMN}: error[E0711]: SOPS file secrets/db.enc.yaml is a FIFO, not a regular file" in run.stderr


def test_a_sops_path_linked_to_a_device_is_e0710(tmp_path):
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").symlink_to("/dev/null")
    (root / "zero").symlink_to("/dev/zero")
    found, where = only_diagnostic(root)
    assert (found.code, where) == ("E0710", ("fleet.gop", SECRET_LINE, SECRET_COLUMN))  # /dev is outside the program
    program_with_secret(root, "zero")
    found, _ = only_diagnostic(root)
    assert found.code == "E0710" and "leads to /dev/zero" in found.message


def test_an_oversized_sops_file_is_e0711(tmp_path, monkeypatch):
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    monkeypatch.setattr(secrets, "MAX_SOPS_BYTES", 512)
    found, where = only_diagnostic(root)
    assert (found.code, where) == ("E0711", ("fleet.gop", SECRET_LINE, SECRET_COLUMN))
    assert found.message == "SOPS file secrets/db.enc.yaml is larger than 512 bytes"


# ---------------------------------------------------------------- .gop files and the walk

def test_a_gop_file_linked_to_dev_zero_is_e0901_and_check_does_not_read_it_forever(tmp_path):
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    (root / "zero.gop").symlink_to("/dev/zero")
    run = gopc("check", "fleet", cwd=tmp_path)
    assert run.returncode == 2
    assert f"fleet/zero.gop:1:1: error[E0901]: `fleet/zero.gop` leads to /dev/zero, outside the directory fleet" in run.stderr
    run = gopc("check", str(root / "zero.gop"), cwd=tmp_path)  # named itself: any regular file, and this is none
    assert run.returncode == 2 and "error[E0901]: `fleet/zero.gop` is a character device, not a regular file" in run.stderr


def test_a_fifo_gop_file_is_e0901_for_check_and_fmt(tmp_path):
    root = program_with_secret(tmp_path / "fleet", "secrets/db.enc.yaml")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    os.mkfifo(root / "pipe.gop")
    for target in (root, root / "pipe.gop"):
        run = gopc("check", str(target), cwd=tmp_path)
        assert run.returncode == 2
        assert "fleet/pipe.gop:1:1: error[E0901]: `fleet/pipe.gop` is a FIFO, not a regular file" in run.stderr
        run = gopc("fmt", "--check", str(target), cwd=tmp_path)
        assert "gopc fmt: error[E0901]: `fleet/pipe.gop` is a FIFO, not a regular file" in run.stderr
        assert run.returncode == 1 and "Traceback" not in run.stderr


def test_symlinked_directories_are_not_walked(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "broken.gop").write_text("this is not a program\n")
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    (root / "loop").symlink_to(".")
    (root / "out").symlink_to(outside)
    assert loader.gop_files(root) == [root / "fleet.gop"]
    assert analyse([root]).diagnostics == []


def test_the_walk_finds_what_rglob_finds_without_hidden_parts_in_path_order(tmp_path):
    root = tmp_path / "fleet"
    for name in ["b.gop", "B.gop", "a-b.gop", "a.gop", "a/z.gop", "a/b/c.gop", "a b/x.gop", "ab.gop", "dir.gop/in.gop",
                 ".hidden.gop", ".git/x.gop", "a/.cache/y.gop", "notes.txt", "a/gop", "Z/e.gop", "é.gop"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("package fleet\n", encoding="utf-8")
    (root / "linked").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.gop").symlink_to(tmp_path / "nowhere.gop")
    expected = sorted(p for p in root.rglob("*.gop") if not any(part.startswith(".") for part in p.relative_to(root).parts))
    assert loader.gop_files(root) == expected
    assert root / "dir.gop" in expected and root / "dangling.gop" in expected  # names, not kinds: the loader reports them
    assert loader.gop_files(tmp_path / "missing") == []


def test_a_gop_file_that_leaves_its_directory_through_a_symlink_is_e0901(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "extra.gop").write_text("let extra = 1\n")
    root = program_with_secret(tmp_path / "fleet")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    (root / "extra.gop").symlink_to(outside / "extra.gop")
    found, where = only_diagnostic(root)
    assert (found.code, where) == ("E0901", ("extra.gop", 1, 1))
    assert f"leads to {outside / 'extra.gop'}, outside the directory" in found.message


def test_an_imported_file_that_leaves_its_module_through_a_symlink_is_e0901(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "types.gop").write_text("package lib\nlet replicas = 2\n")
    root = tmp_path / "fleet"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "types.gop").symlink_to(outside / "types.gop")
    (root / "main.gop").write_text('import "./lib"\nlet r = lib.replicas\n')
    analysis = analyse([root / "main.gop"])
    codes = {(d.code, Path(d.span.file).name) for d in analysis.diagnostics}
    assert ("E0901", "types.gop") in codes
    assert any("outside the directory" in d.message for d in analysis.diagnostics if d.code == "E0901")


def test_an_oversized_gop_file_is_e0901(tmp_path, monkeypatch):
    (tmp_path / "big.gop").write_text("let x = 1\n" * 200)
    monkeypatch.setattr(loader, "MAX_SOURCE_BYTES", 1024)
    found, where = only_diagnostic(tmp_path)
    assert (found.code, where) == ("E0901", ("big.gop", 1, 1)) and found.message.endswith("is larger than 1024 bytes")


def test_fmt_does_not_write_outside_the_directory_through_a_symlink(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "shared.gop").write_text("let   x = 1\n")
    root = tmp_path / "fleet"
    root.mkdir()
    (root / "shared.gop").symlink_to(outside / "shared.gop")
    run = gopc("fmt", "fleet", cwd=tmp_path)
    assert run.returncode == 1 and "error[E0901]" in run.stderr and "outside the directory fleet" in run.stderr
    assert (outside / "shared.gop").read_text() == "let   x = 1\n"
