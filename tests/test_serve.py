"""The build server (compiler/commands/serve.py): `gopc build` served by `gopc serve` prints, writes
and exits exactly as the same build in its own process, after any sequence of edits; and a client
that finds no server, a dead one, or one that stops before replying, builds in its own process.

Every build here runs the `gopc` executable; whether a server served it is read from the server's
own count (`gopc serve --status`), never assumed.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import realtools as rt
from test_runmemo import PROBE, copy_example, edit

GOPC = Path(sys.executable).with_name("gopc")


def runtime_dir(cache: Path) -> Path:
    """The test's own XDG_RUNTIME_DIR, short (a socket's path has at most 100 bytes, and tmp_path
    under pytest-xdist is long)."""
    return Path(tempfile.gettempdir()) / f"gopc-test-{hashlib.sha256(bytes(cache)).hexdigest()[:10]}"


@pytest.fixture(autouse=True)
def _runtime_dirs_removed(tmp_path: Path):
    yield
    for cache in tmp_path.iterdir():
        shutil.rmtree(runtime_dir(cache), ignore_errors=True)


def environment(cache: Path, **extra: str) -> dict[str, str]:
    """The cache `cache`, and the socket in `runtime_dir(cache)`."""
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache), "XDG_RUNTIME_DIR": str(runtime_dir(cache)), "PYTHONHASHSEED": "0"}
    for name in ("GOPC_NO_SERVER", "GOPC_SERVE_AFTER", "CI", "NO_COLOR", "FORCE_COLOR", "TMPDIR"):  # CI: the suite runs in one
        env.pop(name, None)
    env.update(extra)
    return env


def gopc(*args, cache: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run([GOPC, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=environment(cache, **extra), stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def builds_served(cache: Path, cwd: Path) -> int:
    status = gopc("serve", "--status", cache=cache, cwd=cwd)
    assert status.returncode == 0, status.stderr
    return int(re.search(r"(\d+) builds served", status.stdout).group(1))


def socket_of(cache: Path, cwd: Path) -> Path:
    status = gopc("serve", "--status", cache=cache, cwd=cwd)
    assert status.returncode == 0, status.stderr
    return Path(re.search(r"socket (\S+)", status.stdout).group(1))


@pytest.fixture
def server(tmp_path: Path):
    """A detached server for the cache `tmp_path/cache`; stopped (and checked stopped) after the test."""
    cache = tmp_path / "cache"
    started = gopc("serve", "--detach", "--idle-timeout", "120", cache=cache, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "serving `gopc build` on" in started.stderr
    path = socket_of(cache, tmp_path)
    yield cache
    stopped = gopc("serve", "--stop", cache=cache, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert not path.exists()


def on_terminal(*args, cache: Path, cwd: Path, **extra: str) -> tuple[int, str]:
    """`gopc ARGS` with stdout and stderr on a terminal (a pty): its exit code and what it showed."""
    controller, terminal = pty.openpty()
    with subprocess.Popen([GOPC, *map(str, args)], cwd=cwd, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                          env=environment(cache, NO_COLOR="1", **extra)) as done:
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(controller, 1 << 16):
                shown += chunk
    os.close(controller)
    assert b"Traceback" not in shown, shown
    return done.returncode, shown.decode()


def same_tree(left: Path, right: Path) -> None:
    """Byte-identical trees, file modes included."""
    left_files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    right_files = sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    assert left_files == right_files
    for relative in left_files:
        assert filecmp.cmp(left / relative, right / relative, shallow=False), relative
        assert (left / relative).stat().st_mode == (right / relative).stat().st_mode, relative


def test_a_served_build_writes_prints_and_exits_as_a_build_in_its_own_process(server, tmp_path):
    program = copy_example("shop", tmp_path)
    served = gopc("build", program, "-o", "out", cache=server, cwd=tmp_path)
    assert served.returncode == 0, served.stderr
    assert builds_served(server, tmp_path) == 1
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    local = gopc("build", program, "-o", "out", cache=tmp_path / "other-cache", cwd=local_dir, GOPC_NO_SERVER="1")
    assert (served.returncode, served.stdout, served.stderr) == (local.returncode, local.stdout, local.stderr)
    same_tree(tmp_path / "out", local_dir / "out")
    # -v lists each file, --check compares: served too, and the same
    for args in (("-v",), ("--check",), ("--check", "-v"), ("--format", "json")):
        served = gopc("build", program, "-o", "out", *args, cache=server, cwd=tmp_path)
        local = gopc("build", program, "-o", "out", *args, cache=tmp_path / "other-cache", cwd=local_dir,
                     GOPC_NO_SERVER="1")
        assert (served.returncode, served.stdout, served.stderr) == (local.returncode, local.stdout, local.stderr), args
    assert builds_served(server, tmp_path) == 5


def test_served_builds_after_edits_equal_a_fresh_build_of_each_version(server, tmp_path):
    program = copy_example("shop", tmp_path)
    edits = [
        (program / "apps.gop", "replicas = 1", "replicas = 4"),  # one app's value
        (program / "envs.gop", None, None),                        # an env file edited (appended comment)
        (program / "apps.gop", "replicas = 4", "replicas = 1"),   # the edit undone: the older trees again
        (program / "clusters.gop", "replicas = 8", "replicas = 6"),  # a cluster's overlay
    ]
    for number, (path, old, new) in enumerate([(None, None, None), *edits]):
        if path is not None and old is not None:
            edit(path, old, new)
        elif path is not None:
            path.write_text(path.read_text() + "\n// edited\n")
        served = gopc("build", program, "-o", "out", "-q", cache=server, cwd=tmp_path)
        assert served.returncode == 0, served.stderr
        fresh = gopc("build", program, "-o", f"fresh{number}", "-q", "--no-cache", cache=tmp_path / "none",
                     cwd=tmp_path, PYTHONHASHSEED="7")
        assert fresh.returncode == 0, fresh.stderr
        same_tree(tmp_path / "out", tmp_path / f"fresh{number}")
    assert builds_served(server, tmp_path) == 1 + len(edits)


def test_a_program_with_errors_is_reported_as_by_a_build_in_its_own_process(server, tmp_path):
    program = copy_example("shop", tmp_path)
    edit(program / "apps.gop", "replicas = 1", 'replicas = "one"')
    served = gopc("build", program, "-o", "out", cache=server, cwd=tmp_path, FORCE_COLOR="1")
    local = gopc("build", program, "-o", "out", cache=tmp_path / "other", cwd=tmp_path, FORCE_COLOR="1",
                 GOPC_NO_SERVER="1")
    assert served.returncode == local.returncode == 1
    assert "\x1b[" in served.stderr  # the client's environment decides colours
    assert served.stderr == local.stderr and served.stdout == local.stdout
    assert not (tmp_path / "out").exists()
    # a usage error too
    served = gopc("build", program, cache=server, cwd=tmp_path)
    assert served.returncode == 2 and "required: -o/--out" in served.stderr
    assert builds_served(server, tmp_path) == 2


def test_the_clients_umask_sets_the_modes_of_the_files(server, tmp_path):
    program = copy_example("shop", tmp_path)
    command = f"umask 077 && exec {GOPC} build {program} -o out -q"
    served = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=environment(server), capture_output=True, text=True)
    assert served.returncode == 0, served.stderr
    assert builds_served(server, tmp_path) == 1
    modes = {p.stat().st_mode & 0o777 for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert modes == {0o600}


def test_no_cache_and_gopc_no_server_build_in_their_own_process(server, tmp_path):
    program = copy_example("shop", tmp_path)
    assert gopc("build", program, "-o", "a", "-q", "--no-cache", cache=server, cwd=tmp_path).returncode == 0
    assert gopc("build", program, "-o", "b", "-q", cache=server, cwd=tmp_path, GOPC_NO_SERVER="1").returncode == 0
    assert builds_served(server, tmp_path) == 0
    same_tree(tmp_path / "a", tmp_path / "b")


def test_one_server_per_socket(server, tmp_path):
    second = gopc("serve", cache=server, cwd=tmp_path)
    assert second.returncode == 2 and "error[E0906]" in second.stderr and "already running" in second.stderr
    again = gopc("serve", "--detach", cache=server, cwd=tmp_path)
    assert again.returncode == 0 and "already running" in again.stderr


def test_a_server_killed_outright_leaves_clients_building_and_is_replaced(tmp_path):
    cache = tmp_path / "cache"
    program = copy_example("shop", tmp_path)
    assert gopc("serve", "--detach", cache=cache, cwd=tmp_path).returncode == 0
    path = socket_of(cache, tmp_path)
    pid = int(re.search(r"pid (\d+)", gopc("serve", "--status", cache=cache, cwd=tmp_path).stdout).group(1))
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: gopc("serve", "--status", cache=cache, cwd=tmp_path).returncode == 2)
    assert path.exists()  # left behind
    built = gopc("build", program, "-o", "out", "-q", cache=cache, cwd=tmp_path)
    assert built.returncode == 0 and built.stderr == ""
    status = gopc("serve", "--status", cache=cache, cwd=tmp_path)
    assert status.returncode == 2 and "error[E0906]: no build server is running" in status.stderr
    assert gopc("serve", "--detach", cache=cache, cwd=tmp_path).returncode == 0
    assert gopc("build", program, "-o", "out", "-q", cache=cache, cwd=tmp_path).returncode == 0
    assert builds_served(cache, tmp_path) == 1
    assert gopc("serve", "--stop", cache=cache, cwd=tmp_path).returncode == 0


def test_a_server_that_closes_before_replying_leaves_the_client_building(tmp_path):
    """A stand-in for a server that dies mid-build: it accepts, reads the request and closes."""
    cache = tmp_path / "cache"
    program = copy_example("shop", tmp_path)
    gopc("serve", "--detach", "--idle-timeout", "60", cache=cache, cwd=tmp_path)
    path = socket_of(cache, tmp_path)
    assert gopc("serve", "--stop", cache=cache, cwd=tmp_path).returncode == 0
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def close_after_request() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1 << 20)

    closer = threading.Thread(target=close_after_request)
    closer.start()
    try:
        built = gopc("build", program, "-o", "out", cache=cache, cwd=tmp_path)
    finally:
        closer.join(timeout=30)
        listener.close()
        path.unlink()
    assert built.returncode == 0
    assert "stopped before it replied; building here" in built.stderr
    assert "files in out" in built.stderr and (tmp_path / "out" / "clusters").is_dir()


def test_an_idle_server_stops_and_removes_its_socket(tmp_path):
    cache = tmp_path / "cache"
    server = subprocess.Popen([GOPC, "serve", "--idle-timeout", "1"], env=environment(cache), cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0
    assert "serving `gopc build` on" in stderr and "no build for 1 s: stopping" in stderr
    assert not Path(re.search(r"on (\S+) \(pid", stderr).group(1)).exists()


def test_sigterm_stops_a_server(tmp_path):
    cache = tmp_path / "cache"
    server = subprocess.Popen([GOPC, "serve"], env=environment(cache), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    _wait_until(lambda: gopc("serve", "--status", cache=cache, cwd=tmp_path).returncode == 0)
    path = socket_of(cache, tmp_path)
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=60)
    assert server.returncode == 0
    assert not path.exists()


def test_the_socket_goes_to_the_temporary_directory_when_the_cache_directory_is_too_deep(tmp_path):
    deep, temporary = tmp_path / ("d" * 80), Path(tempfile.mkdtemp(prefix="gt"))
    here = {"cache": deep, "cwd": tmp_path, "XDG_RUNTIME_DIR": "", "TMPDIR": str(temporary)}
    try:
        started = gopc("serve", "--detach", **here)
        assert started.returncode == 0, started.stderr
        assert f"on {temporary}/gopc-{os.getuid()}/" in started.stderr
        assert (temporary / f"gopc-{os.getuid()}").stat().st_mode & 0o777 == 0o700
        program = copy_example("shop", tmp_path)
        assert gopc("build", program, "-o", "out", "-q", **here).returncode == 0
        assert "1 builds served" in gopc("serve", "--status", **here).stdout
        assert gopc("serve", "--stop", **here).returncode == 0
    finally:
        shutil.rmtree(temporary)


def test_no_server_without_a_usable_socket_path(tmp_path):
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    refused = gopc("serve", cache=deep, cwd=tmp_path, XDG_RUNTIME_DIR="", TMPDIR=str(deep))
    assert refused.returncode == 2 and "error[E0906]" in refused.stderr and "no path short enough" in refused.stderr
    program = copy_example("shop", tmp_path)
    assert gopc("build", program, "-o", "out", "-q", cache=deep, cwd=tmp_path, XDG_RUNTIME_DIR="",
                TMPDIR=str(deep)).returncode == 0


def test_no_server_is_asked_in_a_directory_others_may_write(server, tmp_path):
    path = socket_of(server, tmp_path)
    program = copy_example("shop", tmp_path)
    os.chmod(path.parent, 0o777)
    try:
        assert gopc("build", program, "-o", "out", "-q", cache=server, cwd=tmp_path).returncode == 0
    finally:
        os.chmod(path.parent, 0o700)
    assert builds_served(server, tmp_path) == 0


def _wait_until(condition) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_stdout_and_stderr_come_in_the_order_the_build_wrote_them(server, tmp_path):
    """On a terminal (line-buffered, both streams on it) a warning (stderr), the list of files that
    differ (stdout) and the summary (stderr) appear as a build in its own process shows them."""
    program = copy_example("shop", tmp_path)
    assert gopc("build", program, "-o", "out", "-q", cache=server, cwd=tmp_path).returncode == 0
    edit(program / "apps.gop", "replicas = 1", "replicas = 4")
    edit(program / "apps.gop", 'ORDERS_URL = "', 'API_TOKEN = "hunter2-hunter2"\n    ORDERS_URL = "')

    def on_a_terminal(**extra: str) -> str:
        code, shown = on_terminal("build", program, "-o", "out", "--check", cache=server, cwd=tmp_path, **extra)
        assert code == 1
        return shown

    served = on_a_terminal()
    assert builds_served(server, tmp_path) == 2
    assert served == on_a_terminal(GOPC_NO_SERVER="1")
    assert served.index("W0603") < served.index("differs") < served.index("is not what the program builds")


def test_a_served_build_records_its_run_memo_once_no_client_asks(server, tmp_path):
    """The run memo (commands/runmemo.py) walks the whole output tree: the server records it after
    a moment without requests, in the client's directory; a no-op build replays it, served or
    not, and prints what the build printed."""
    program = copy_example("shop", tmp_path)
    built = gopc("build", program, "-o", "out", cache=server, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    time.sleep(1.5)  # the server's WORK_AFTER_IDLE, and the tree's settling window (docs: a tick)
    served = gopc("build", program, "-o", "out", cache=server, cwd=tmp_path)
    assert builds_served(server, tmp_path) == 2
    env = environment(server, GOPC_NO_SERVER="1")
    probe = subprocess.run([sys.executable, "-c", PROBE, "build", str(program), "-o", "out"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.stdout.splitlines()[-1] == "replayed"
    assert probe.stderr == served.stderr and "0 written" in served.stderr



def test_a_hand_edit_of_the_output_is_found_by_a_served_build(server, tmp_path):
    """The server watches the tree it built (emit/treewatch.py): an edit that keeps the file's size
    and modification time is found, and the file rewritten, as by a build in its own process."""
    program = copy_example("shop", tmp_path)
    for _ in range(2):  # the first build's tree is watched from then on
        assert gopc("build", program, "-o", "out", "-q", cache=server, cwd=tmp_path).returncode == 0
    shutil.copytree(tmp_path / "out", tmp_path / "copy", symlinks=True)
    for tree in ("out", "copy"):
        target = sorted((tmp_path / tree).rglob("values.yaml"))[0]
        status = target.stat()
        with open(target, "r+b") as file:
            first = file.read(1)
            file.seek(0)
            file.write(b"Y" if first == b"X" else b"X")
        os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
    served = gopc("build", program, "-o", "out", cache=server, cwd=tmp_path)
    local = gopc("build", program, "-o", "copy", cache=tmp_path / "other-cache", cwd=tmp_path, GOPC_NO_SERVER="1")
    assert (served.returncode, served.stdout, served.stderr.replace("out", "copy")) == \
        (local.returncode, local.stdout, local.stderr)
    assert "(1 written," in served.stderr, served.stderr
    same_tree(tmp_path / "out", tmp_path / "copy")
    assert builds_served(server, tmp_path) == 3
    status = gopc("serve", "--status", cache=server, cwd=tmp_path).stdout
    assert re.search(rf"builds into {re.escape(os.path.realpath(tmp_path / 'out'))}: its tree watched \(\d+ watches\)", status), status


def test_a_build_on_a_terminal_starts_a_server_for_the_next_builds(tmp_path):
    """As Gradle starts its daemon: a build in its own process, on a terminal, starts a server in
    the background, which builds the same program at once; the next build, after an edit, is served."""
    cache = tmp_path / "cache"
    program = copy_example("shop", tmp_path)
    code, shown = on_terminal("build", program, "-o", "out", cache=cache, cwd=tmp_path, GOPC_SERVE_AFTER="0")
    assert code == 0 and "gopc: started a build server for the next builds" in shown, shown
    try:
        deadline = time.monotonic() + 60
        while True:  # the server starts, then builds the client's build again: its first
            status = gopc("serve", "--status", cache=cache, cwd=tmp_path)
            if status.returncode == 0 and re.search(r"\b1 builds served", status.stdout):
                break
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(0.1)
        assert not list(runtime_dir(cache).rglob("*.first-build"))  # the request it was handed: read and removed
        edit(program / "apps.gop", "replicas = 1", "replicas = 4")
        served = gopc("build", program, "-o", "out", "-q", cache=cache, cwd=tmp_path)
        assert served.returncode == 0, served.stderr
        assert builds_served(cache, tmp_path) == 2
        fresh = gopc("build", program, "-o", "fresh", "-q", "--no-cache", cache=tmp_path / "none", cwd=tmp_path)
        assert fresh.returncode == 0, fresh.stderr
        same_tree(tmp_path / "out", tmp_path / "fresh")
        code, shown = on_terminal("build", program, "-o", "out", cache=cache, cwd=tmp_path, GOPC_SERVE_AFTER="0")  # served
        assert code == 0 and "started a build server" not in shown
    finally:
        assert gopc("serve", "--stop", cache=cache, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("how", ["a pipe", "CI", "GOPC_NO_SERVER", "--check", "--no-cache", "a fast build"])
def test_no_server_is_started_from_a_script_in_ci_for_a_fast_build_or_when_asked_not_to(tmp_path, how):
    cache = tmp_path / "cache"
    program = copy_example("shop", tmp_path)
    args = ["build", program, "-o", "out"] + ([how] if how.startswith("--") else [])
    extra = {"CI": {"CI": "true"}, "GOPC_NO_SERVER": {"GOPC_NO_SERVER": "1"}}.get(how, {})
    extra["GOPC_SERVE_AFTER"] = "60" if how == "a fast build" else "0"
    if how == "a pipe":
        done = gopc(*args, cache=cache, cwd=tmp_path, **extra)
        code, shown = done.returncode, done.stderr
    else:
        code, shown = on_terminal(*args, cache=cache, cwd=tmp_path, **extra)
    assert code in (0, 1) and "started a build server" not in shown, shown  # --check: 1, the tree differs
    status = gopc("serve", "--status", cache=cache, cwd=tmp_path)
    assert status.returncode != 0 and "no build server is running" in status.stderr
