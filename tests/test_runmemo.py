"""Whole-run memos (compiler/commands/runmemo.py): a `gopc check` or `gopc build` whose inputs are
unchanged replays what the full run reported, and nothing else.

- A replay prints the same bytes (stdout and stderr) and exits with the same code as the full run
  and as `--no-cache`, under two PYTHONHASHSEEDs, in text and JSON; it does not analyse.
- Each kind of input change is a full run again, which says what `--no-cache` says: a `.gop` edit
  (same size), a new `.gop` file, a resource file, a vendored chart's file, a file of a module
  imported from outside the program's directory and a new file there, a file read in a hidden
  directory, an option, and the output tree edited (or added to) by hand.
- A damaged entry is ignored, and a writer's half-written file is never read as an entry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import realtools as rt

EXAMPLES = rt.REPO_ROOT / "examples"
SETTLE = 2.2  # seconds: a tree changed within core.settling.SETTLED_NS of a build is not recorded

# Runs `gopc` as its executable does, then says (last stdout line) whether the run analysed.
PROBE = ("import sys\nfrom gop.compiler import cli\ncode = cli.main(sys.argv[1:])\nsys.stdout.flush()\n"
         "print('analysed' if 'gop.compiler.session' in sys.modules else 'replayed')\nsys.exit(code)\n")


def gopc(*args, cache: Path, seed: str = "0", cwd: Path | None = None) -> tuple[int, str, str, str]:
    """(exit code, stdout, stderr, "analysed" or "replayed")."""
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache), "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    out, _, how = done.stdout.rstrip("\n").rpartition("\n")
    return done.returncode, out + "\n" if out else "", done.stderr, how


def same_as_without_memo(args, cache: Path, tmp_path: Path, **kwargs) -> str:
    """Runs `args` with the memo and with --no-cache; asserts the same exit code and bytes; how the memo run went."""
    code, out, err, how = gopc(*args, cache=cache, **kwargs)
    reference = gopc(*args, "--no-cache", cache=tmp_path / "no-cache", **kwargs)
    assert (code, out, err) == reference[:3]
    assert reference[3] == "analysed"
    return how


def copy_example(name: str, tmp_path: Path) -> Path:
    program = tmp_path / name
    shutil.copytree(EXAMPLES / name, program)
    return program


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_replayed_check_prints_the_same_bytes_as_the_full_run(tmp_path):
    program = copy_example("shop", tmp_path)
    (program / "extra.gop").write_text("package fleet\n\nlet unused = 1 +\n", encoding="utf-8")
    cache = tmp_path / "cache"
    for fmt in ((), ("--format", "json")):
        for seed in ("1", "2"):
            first = gopc("check", program, *fmt, cache=cache, seed=seed)
            again = gopc("check", program, *fmt, cache=cache, seed=seed)
            reference = gopc("check", program, *fmt, "--no-cache", cache=tmp_path / "none", seed=seed)
            assert first[0] == 1 and "extra.gop" in first[1] + first[2]
            assert first[:3] == again[:3] == reference[:3]
            assert again[3] == "replayed" and reference[3] == "analysed"
    assert not (tmp_path / "none" / "gopc" / "objects").exists()  # --no-cache keeps no memo either


def test_a_checked_file_is_replayed_within_its_program(tmp_path):
    program = copy_example("shop", tmp_path)
    cache = tmp_path / "cache"
    assert same_as_without_memo(["check", program / "apps.gop"], cache, tmp_path) == "analysed"
    assert same_as_without_memo(["check", program / "apps.gop"], cache, tmp_path) == "replayed"
    assert same_as_without_memo(["check", program / "envs.gop"], cache, tmp_path) == "analysed"  # other paths


def test_each_input_of_a_check_invalidates_its_memo(tmp_path):
    program = copy_example("kustomize-helm", tmp_path)
    cache = tmp_path / "cache"
    check = ["check", program]
    assert same_as_without_memo(check, cache, tmp_path) == "analysed"
    assert same_as_without_memo(check, cache, tmp_path) == "replayed"
    changes = [
        lambda: edit(program / "apps.gop", 'tag = "8.6.2"', 'tag = "8.6.3"'),  # same size
        lambda: (program / "more.gop").write_text("package podinfo\n\nlet x = 1 +\n", encoding="utf-8"),
        lambda: (program / "more.gop").unlink(),
        lambda: edit(program / "crds" / "cert-manager.yaml", "kind:", "kind: [\n"),  # a resource file
        lambda: edit(program / "crds" / "cert-manager.yaml", "kind: [\n", "kind:"),
        lambda: edit(program / "vendor" / "charts" / "cert-manager" / "1.19.0" / "values.yaml", "\n", "\n# mine\n"),
        lambda: (program / "charts.lock").write_text("charts: 3\n", encoding="utf-8"),
    ]
    for change in changes:
        change()
        assert same_as_without_memo(check, cache, tmp_path) == "analysed", change
        assert same_as_without_memo(check, cache, tmp_path) == "replayed", change


def test_files_read_outside_the_scanned_tree_invalidate_it(tmp_path):
    program = copy_example("shop", tmp_path)
    shared = tmp_path / "shared"  # a module imported from outside the program's directory
    (program / "lib").rename(shared)
    for file in program.glob("*.gop"):
        file.write_text(file.read_text(encoding="utf-8").replace('import "./lib"', 'import "../shared"'), encoding="utf-8")
    hidden = program / ".data"  # a directory the scan skips
    hidden.mkdir()
    (hidden / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: default\n",
                                       encoding="utf-8")
    with open(program / "apps.gop", "a", encoding="utf-8") as apps:
        apps.write('\nresource extra {\n  file = ".data/extra.yaml"\n}\n')
    cache = tmp_path / "cache"
    check = ["check", program]
    assert same_as_without_memo(check, cache, tmp_path) == "analysed"
    assert same_as_without_memo(check, cache, tmp_path) == "replayed"
    lib = sorted(shared.glob("*.gop"))[0]
    for change in (lambda: lib.write_text(lib.read_text(encoding="utf-8") + "\nlet broken = 1 +\n", encoding="utf-8"),
                   lambda: (shared / "more.gop").write_text("package lib\n\nlet y = 1 +\n", encoding="utf-8"),
                   lambda: edit(hidden / "extra.yaml", "kind: ConfigMap", "kind: [")):
        change()
        assert same_as_without_memo(check, cache, tmp_path) == "analysed", change
        assert same_as_without_memo(check, cache, tmp_path) == "replayed", change


def settled_build(program: Path, out: Path, cache: Path, *options) -> tuple:
    """Build until the memo holds the tree (a tree written within the settling time is not recorded)."""
    gopc("build", program, "-o", out, *options, cache=cache)
    time.sleep(SETTLE)
    return gopc("build", program, "-o", out, *options, cache=cache)


def tree_bytes(tree: Path) -> dict[str, bytes]:
    return {str(path.relative_to(tree)): path.read_bytes() for path in sorted(tree.rglob("*")) if path.is_file()}


def test_a_no_op_build_is_replayed_and_each_change_builds_again(tmp_path):
    program = copy_example("shop", tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    full = settled_build(program, out, cache)
    assert full[0] == 0 and full[3] == "analysed" and "0 written" in full[2]
    expected = tree_bytes(out)
    for seed in ("1", "2"):
        replay = gopc("build", program, "-o", out, cache=cache, seed=seed)
        reference = gopc("build", program, "-o", out, "--no-cache", cache=tmp_path / "none", seed=seed)
        assert replay[:3] == full[:3] == reference[:3] and replay[3] == "replayed"
    assert tree_bytes(out) == expected
    # an option: --force, another output directory
    assert gopc("build", program, "-o", out, "--force", cache=cache)[3] == "analysed"
    assert gopc("build", program, "-o", tmp_path / "other", cache=cache)[3] == "analysed"
    # a .gop edit: built again, as without the memo
    edit(program / "apps.gop", "replicas = 2", "replicas = 3")
    built = gopc("build", program, "-o", out, cache=cache)
    assert built[0] == 0 and built[3] == "analysed" and "0 written" not in built[2]
    edit(program / "apps.gop", "replicas = 3", "replicas = 2")
    assert settled_build(program, out, cache)[3] == "analysed"
    assert gopc("build", program, "-o", out, cache=cache)[3] == "replayed"
    # the output edited by hand (in place, same size): the full build puts the file back
    victim = next(path for path in sorted(out.rglob("*.yaml")) if path.stat().st_nlink == 1)  # no twin shares it
    original = victim.read_bytes()
    with open(victim, "r+b") as file:
        file.write(b"X" if original[:1] != b"X" else b"Y")  # a byte the file does not start with
    rebuilt = gopc("build", program, "-o", out, cache=cache)
    assert rebuilt[3] == "analysed" and "1 written" in rebuilt[2] and victim.read_bytes() == original
    # a file of the user's added to the output: kept, and counted, as without the memo
    time.sleep(SETTLE)
    (out / "NOTES.md").write_text("mine\n", encoding="utf-8")
    kept = gopc("build", program, "-o", out, cache=cache)
    assert kept[3] == "analysed" and "1 of yours kept" in kept[2]
    time.sleep(SETTLE)
    assert gopc("build", program, "-o", out, cache=cache)[:3] == kept[:3]
    replayed = gopc("build", program, "-o", out, cache=cache)
    assert replayed[:3] == kept[:3] and replayed[3] == "replayed"
    # --check never replays
    assert gopc("build", program, "-o", out, "--check", cache=cache)[3] == "analysed"


def test_a_damaged_or_half_written_entry_is_never_replayed(tmp_path):
    program = copy_example("shop", tmp_path)
    cache = tmp_path / "cache"
    assert gopc("check", program, cache=cache)[3] == "analysed"
    entries = sorted(path for path in (cache / "gopc" / "objects" / "run").rglob("*") if path.is_file())
    assert len(entries) == 1 and not entries[0].name.endswith(".partial")
    whole = entries[0].read_bytes()
    entries[0].write_bytes(whole[: len(whole) // 2])  # what a writer without the rename would leave
    assert same_as_without_memo(["check", program], cache, tmp_path) == "analysed"
    assert entries[0].read_bytes() == whole  # written again, whole
    os.rename(entries[0], entries[0].with_name(entries[0].name + ".1-2-3.partial"))  # a writer's file, not yet renamed
    assert gopc("check", program, cache=cache)[3] == "analysed"


@pytest.mark.parametrize("command", ["check", "build"])
def test_an_unreadable_file_is_never_memoized(tmp_path, command):
    program = copy_example("shop", tmp_path)
    (program / "broken.gop").write_bytes(b"package fleet\n\xff\n")
    cache = tmp_path / "cache"
    args = [command, program, *(("-o", tmp_path / "out") if command == "build" else ())]
    assert same_as_without_memo(args, cache, tmp_path) == "analysed"
    assert same_as_without_memo(args, cache, tmp_path) == "analysed"


def test_a_tree_too_large_to_hash_is_not_memoized_and_is_found_before_reading(tmp_path, monkeypatch):
    from gop.compiler.commands import runmemo

    (tmp_path / "a.gop").write_text("let a = 1\n", encoding="utf-8")
    (tmp_path / "big.bin").write_bytes(b"x" * 4096)
    assert runmemo._scan((str(tmp_path),), None) is not None
    monkeypatch.setattr(runmemo, "MAX_SCANNED_BYTES", 1024)
    monkeypatch.setattr(runmemo, "_file_digest", lambda path: pytest.fail(f"read {path}"))
    assert runmemo._scan((str(tmp_path),), None) is None


def test_a_tree_is_settled_after_its_file_systems_tick():
    """Sub-second times (ext4, XFS...): changed more than FINE_SETTLED_NS ago is settled; whole-second
    times (FAT, ext3): only after SETTLED_NS, device by device (an output may span two)."""
    from types import SimpleNamespace

    from gop.compiler.core import settling

    now = 100 * 10**9

    def entry(device: int, changed: int) -> SimpleNamespace:
        return SimpleNamespace(st_dev=device, st_mtime_ns=changed, st_ctime_ns=changed)

    fine_recent = now - settling.FINE_SETTLED_NS // 2 - 1
    fine_old = now - settling.FINE_SETTLED_NS - 1_234
    coarse = now - 10**9  # a whole second, one second ago
    assert settling.settled([entry(1, fine_old), entry(1, fine_old - 10**6)], now)
    assert not settling.settled([entry(1, fine_old), entry(1, fine_recent)], now)
    assert not settling.settled([entry(2, coarse)], now)
    assert settling.settled([entry(2, coarse - settling.SETTLED_NS)], now)
    assert not settling.settled([entry(1, fine_old), entry(2, coarse)], now)  # the coarse device's own window
    assert settling.settled([entry(1, fine_old), entry(1, coarse)], now)  # one device: its times are fine
    windows = settling.settling_windows([entry(1, fine_old), entry(2, coarse)])  # status by status
    assert settling.is_settled(entry(1, fine_old), now, windows) and not settling.is_settled(entry(2, coarse), now, windows)


def test_a_no_op_build_just_after_a_writing_one_is_recorded(tmp_path):
    """On a file system with sub-second times, the build after one that wrote files records the tree
    (it waits for no 2-second window), so the third is replayed."""
    program = copy_example("shop", tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert gopc("build", program, "-o", out, cache=cache)[3] == "analysed"
    if all(path.lstat().st_mtime_ns % 10**9 == 0 for path in out.rglob("*")):
        pytest.skip("this file system keeps whole seconds")
    time.sleep(0.2)
    assert gopc("build", program, "-o", out, cache=cache)[3] == "analysed"
    assert gopc("build", program, "-o", out, cache=cache)[3] == "replayed"
