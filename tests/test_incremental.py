"""Incremental builds (#17): a `gopc build` into a tree an earlier build wrote, with the cache
directory earlier runs filled (parses, run memos), writes exactly the tree and reports exactly the
diagnostics a `--no-cache` build into a new directory does, after each kind of change.

- Kinds of change: an app body, a template, the defaults, an env body, an overlay's selector, a
  cluster label, a `let` (a table rows are generated from, a string in another module), a
  dependsOn and a calls edge, a resource file, an error brought in and taken out again.
- The builds alternate PYTHONHASHSEED 1 and 2 (the reference runs under the other one), so an
  entry one seed made is read under the other.
- Before each change's build, a build of it is killed (SIGKILL) after its emit renamed its
  journal and one file into the tree: the next build repairs the tree (the journal's paths).
- Entries damaged, truncated, swapped for another key's, or left half written are ignored.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt
from test_runmemo import copy_example, edit


# `gopc ARGS...` whose emit kills the process (SIGKILL) at its rename number `GOPC_KILL_AT_RENAME`.
KILLED_AT_A_RENAME = """
import os, signal, sys, types
from gop.compiler.emit import tree
renames, kill_at = [], int(os.environ["GOPC_KILL_AT_RENAME"])
def replace(source, target):
    if len(renames) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    renames.append(target)
    os.replace(source, target)
tree.os = types.SimpleNamespace(**{**vars(os), "replace": replace})
from gop.compiler.cli import main
sys.exit(main(sys.argv[1:]))
"""


def gopc(*args, cache: Path, seed: str, kill_at_rename: int | None = None) -> tuple[int, str, str]:
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache), "PYTHONHASHSEED": seed}
    command = ["-m", "gop.compiler.cli"] if kill_at_rename is None else ["-c", KILLED_AT_A_RENAME]
    if kill_at_rename is not None:
        env["GOPC_KILL_AT_RENAME"] = str(kill_at_rename)
    done = subprocess.run([sys.executable, *command, *map(str, args)], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every file of the tree (the manifest included) by relative path."""
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


class Builds:
    """Builds one program incrementally (one output tree, one cache directory) and, beside each,
    with --no-cache into a new directory; asserts the same exit code, output and tree."""

    def __init__(self, program: Path, tmp_path: Path) -> None:
        self.program, self.tmp_path = program, tmp_path
        self.out, self.cache = tmp_path / "out", tmp_path / "cache"
        self.count = 0
        self.killed = 0  # builds killed midway

    def same_as_without_cache(self, what: str, killed_first: bool = False) -> int:
        self.count += 1
        seed, other = ("1", "2") if self.count % 2 else ("2", "1")
        if killed_first:  # the journal and one file renamed; a change whose build writes less finishes
            killed = gopc("build", self.program, "-o", self.out, cache=self.cache, seed=seed, kill_at_rename=2)
            assert killed[0] in (-signal.SIGKILL, 0, 1), (what, killed[2])
            self.killed += killed[0] == -signal.SIGKILL
        code, stdout, stderr = gopc("build", self.program, "-o", self.out, cache=self.cache, seed=seed)
        reference_out = self.tmp_path / f"reference-{self.count}"
        reference = gopc("build", self.program, "-o", reference_out, "--no-cache", cache=self.tmp_path / "none",
                         seed=other)
        assert code == reference[0], (what, stderr, reference[2])
        assert stdout == reference[1], what
        if code == 0:
            assert tree_bytes(self.out) == tree_bytes(reference_out), what
        else:
            assert stderr == reference[2], what  # the diagnostics (no summary line: nothing is written)
        shutil.rmtree(reference_out, ignore_errors=True)
        return code


def changes_of(program: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """(what, file, old, new) by example."""
    return {
        "fleet40": [
            ("a template", "fleet.gop", 'liveness { path = "/healthz" }', 'liveness { path = "/live" }'),
            ("the defaults", "fleet.gop", "replicas = 2 }", "replicas = 4 }"),
            ("an env body", "fleet.gop", "all { replicas = 1 }", "all { replicas = 2 }"),
            ("an overlay selector", "fleet.gop", 'overlay cn-mirror where region == "cn-north-1"',
             'overlay cn-mirror where environment == "prod"'),
            ("a cluster label (a let's row)", "fleet.gop", 'dev-cn = { environment = "dev"',
             'dev-cn = { environment = "staging"'),
            ("an app (a let's row)", "fleet.gop", 'cart = { port = 8080, tag = "1.0.0" }',
             'cart = { port = 8070, tag = "1.0.1" }'),
            ("an error", "fleet.gop", "replicas = 4 }", 'replicas = "four" }'),
            ("the error mended", "fleet.gop", 'replicas = "four" }', "replicas = 4 }"),
        ],
        "shop": [
            ("an app body", "apps.gop", "replicas = 3", "replicas = 5"),
            ("a dependsOn edge", "apps.gop", "delivery { dependsOn = [cart] }", "delivery { dependsOn = [] }"),
            ("a let", "fleet.gop", 'let domain = "shop.example.com"', 'let domain = "shop.example.org"'),
            ("a cluster label", "clusters.gop", 'region = "us-east-1", tier = "gold"',
             'region = "us-east-1", tier = "silver"'),
            ("a cluster body", "clusters.gop", "app checkout { replicas = 8 }", "app checkout { replicas = 9 }"),
            ("a schema default in a module", "lib/types.gop", 'paymentProvider: "stripe" | "adyen" = "stripe"',
             'paymentProvider: "stripe" | "adyen" = "adyen"'),
        ],
        "networking": [
            ("a calls edge", "apps.gop", "calls = [model]", "calls = []"),
            ("a dependsOn edge", "apps.gop", "delivery { dependsOn = [features] }", "delivery { dependsOn = [] }"),
        ],
        "kustomize-helm": [
            ("a resource file", "crds/cert-manager.yaml", "    - cert-manager-acme\n", "    - cert-manager-acme\n    - acme\n"),
        ],
    }[program.name]


@pytest.mark.parametrize("example", ["fleet40", "shop", "networking", "kustomize-helm"])
def test_each_kind_of_change_builds_what_a_build_without_cache_builds(example, tmp_path):
    program = copy_example(example, tmp_path)
    builds = Builds(program, tmp_path)
    assert builds.same_as_without_cache("first build") == 0
    codes = []
    for what, file, old, new in changes_of(program):
        edit(program / file, old, new)
        codes.append(builds.same_as_without_cache(what, killed_first=True))
    assert 0 in codes and builds.killed > 0
    if example == "fleet40":
        assert codes[-2:] == [1, 0]  # the error is reported as without the cache, and mended


def test_damaged_foreign_and_half_written_entries_are_ignored(tmp_path):
    program = copy_example("shop", tmp_path)
    builds = Builds(program, tmp_path)
    assert builds.same_as_without_cache("first build") == 0
    entries = sorted(path for path in (builds.cache / "gopc" / "objects").rglob("*")
                     if path.is_file() and path.name != "pruned")
    assert len(entries) > 4
    contents = [path.read_bytes() for path in entries]
    for index, path in enumerate(entries):
        damage = index % 4
        if damage == 0:  # another key's entry under this name
            path.write_bytes(contents[(index + 1) % len(contents)])
        elif damage == 1:  # truncated
            path.write_bytes(contents[index][: len(contents[index]) // 2])
        elif damage == 2:  # a flipped byte in the payload
            data = bytearray(contents[index])
            data[-1] ^= 0xFF
            path.write_bytes(bytes(data))
        else:  # a writer's half-written file beside an entry that is gone
            path.rename(f"{path}.{os.getpid()}-1-1.partial")
    edit(program / "apps.gop", "replicas = 3", "replicas = 4")
    assert builds.same_as_without_cache("damaged entries") == 0
    assert builds.same_as_without_cache("again, with the entries written anew") == 0
