"""`gopc serve`: a build server, so that a build after an edit reuses, in memory, what the
previous builds of the same program made; `served`, the side of `gopc build` that asks it; and
`start_for_next_builds`, which starts one after a build on a terminal that found none.

Input: `gopc serve [--detach | --stop | --status] [--idle-timeout SECONDS]`, and from each client a
request: its `gopc build` arguments, working directory, environment, umask and whether its stdout
and stderr are terminals. Output: for each request the build's stdout, stderr and exit code, which
the client prints and exits with; the server logs one line per build on its stderr (`--detach`:
a log file beside its socket).

Why a process: a `gopc build` in a new process must import gopc, load every file's tree and
evaluate the whole fleet again, whatever the disk cache holds (about 1.5 s at 1000 apps, 3 envs,
60 clusters). The server keeps one `Session` per program (at most `PROGRAMS_KEPT`), as the language
server does: a ParseCache (a file whose text did not change keeps its tree) and the
`EvaluationMemo` and lowering memos (whatever reads only unchanged objects is not made again), and
the output trees' indexes and watches (`emit.treewatch`): about 0.4 s after a one-line change there.

Invariants:
- A served build prints, writes and exits exactly as the same `gopc build` run in the client's
  process: it runs `cli.main` (handed down by `cli`) on the client's arguments, in its working directory, with its
  environment and umask, stdout and stderr captured with the client's terminal flags. The tests
  compare both, byte for byte, after edits.
- Only `gopc build` without `--no-cache` is served, and only by a server of the same gopc (the
  socket's name holds `gopc_fingerprint()`) and the same cache directory; `GOPC_NO_SERVER=1`
  turns the client off. A client that finds no server, cannot connect, or loses the server
  before its reply builds in its own process (saying so in the last case).
- A served build replays the run memo as a build in its own process does (`commands.runmemo`:
  a no-op build prints what the last one printed, unanalysed); recording it walks the whole
  output tree, so the server records it once no client has asked for `WORK_AFTER_IDLE` seconds.
- A build on a terminal that found no server starts one in the background and says so (never in
  CI, from a script or pipe, for `--check` or `--no-cache`, or with `GOPC_NO_SERVER`); it is
  handed the client's request in a file only the user may read (removed once read) and builds it
  first, its output dropped, and stops after `AUTO_IDLE_TIMEOUT` seconds without a build.
- One build at a time, in the order clients connect. The socket is in a directory only its user
  may enter (`socket_path`); a client asks no server whose directory others may write in, and
  the server refuses a client of another user (SO_PEERCRED). One server per socket (a lock file
  held for its life).
- The server stops after `--idle-timeout` seconds without a request, on `--stop`, SIGTERM or
  Ctrl-C, removing its socket. A server killed outright leaves a socket nobody answers: clients
  build themselves, and the next `gopc serve` replaces it.
- A client interrupted (Ctrl-C) leaves its build running to its end in the server: a build's
  tree is written whole or not at all (`emit.tree`), never half.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from gop.compiler.commands.report import EXIT_OK, EXIT_USAGE, Reporter

SERVE_AFTER = 0.5  # seconds: a build on a terminal this slow starts a server (a smaller program's builds gain nothing)
AUTO_IDLE_TIMEOUT = 900.0  # a server `gopc build` started: it stops sooner than one the user asked for
PROGRAMS_KEPT = 2  # sessions kept, the most recently built first: each holds a whole program's trees
IDLE_TIMEOUT = 1800.0
WORK_AFTER_IDLE = 0.5  # seconds without a request before the last build's run memo is recorded (an edit takes longer)
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_NOT_SERVED = "GOPC_NO_SERVER"


def socket_path() -> Path | None:
    """Where the server of this gopc and this cache directory listens: in `$XDG_RUNTIME_DIR/gopc`,
    else in the cache directory's `serve/`, or in `gopc-<uid>` of the temporary directory when that
    path would be too long for a socket; None where there is no cache directory or no short path."""
    from gop.compiler.core.cachedir import user_cache_dir
    from gop.compiler.core.diskcache import gopc_fingerprint

    cache = user_cache_dir()
    if cache is None:
        return None
    name = hashlib.sha256(gopc_fingerprint() + os.fsencode(cache)).hexdigest()[:20] + ".sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    path = Path(runtime) / "gopc" / name if os.path.isabs(runtime) else cache / "serve" / name
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH and not os.path.isabs(runtime):
        import tempfile  # only here: importing it costs 6 ms, a tenth of a served build's client

        path = Path(tempfile.gettempdir()) / f"gopc-{os.getuid()}" / name
    return path if len(os.fsencode(path)) <= _MAX_SOCKET_PATH else None


def _private(directory: Path) -> bool:
    """The directory is the user's and nobody else may write in it: a socket there is the user's
    server (another user's could read the environment a client sends)."""
    try:
        status = directory.stat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


# ---- the client: `gopc build`

def served(argv: list[str]) -> int | None:
    """Run `gopc build argv` in a running server: its exit code once its output is printed; None
    when there is no server to ask (the caller builds itself)."""
    if os.environ.get(_NOT_SERVED) or "--no-cache" in argv:
        return None
    path = socket_path()
    if path is None or not path.exists() or not _private(path.parent):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    asked = False
    try:
        connection.settimeout(2.0)
        connection.connect(str(path))
        connection.settimeout(None)  # a large build takes what it takes
        connection.sendall(_line(_request(argv, tty=[_isatty(sys.stdout), _isatty(sys.stderr)])))
        asked = True
        reply = _read_line(connection)
    except OSError:
        reply = None
    finally:
        connection.close()
    if reply is None and asked:
        print(f"gopc: the build server ({path}) stopped before it replied; building here", file=sys.stderr)
        return None
    if reply is None or reply.get("code") is None:  # no server, or a request it does not serve
        return None
    # In the order the build wrote them, to streams that buffer as a build here would (a terminal's
    # line by line, a pipe's until the end): what the user sees is what the build here shows.
    streams = {1: sys.stdout, 2: sys.stderr}
    for number, text in reply["output"]:
        streams[number].write(text)
    return reply["code"]


def start_for_next_builds(argv: list[str], seconds: float) -> None:
    """After `gopc build argv` built in its own process (no server answered) in `seconds`, on a
    terminal: start a server in the background for the next builds, as Gradle starts its daemon,
    saying so; only when the build was slow enough for a server to help (`GOPC_SERVE_AFTER`
    seconds, default `SERVE_AFTER`). The server first builds `argv` as the client did
    (`first_build`), so that the next build, after an edit, finds the program in memory. Not in CI
    (`CI` set), not from a script or a pipe (stderr not a terminal), not with `--no-cache`,
    `--check` or `GOPC_NO_SERVER=1`."""
    if os.environ.get(_NOT_SERVED) or os.environ.get("CI", "").lower() not in ("", "0", "false") \
            or "--no-cache" in argv or "--check" in argv or not _isatty(sys.stderr) or seconds < _serve_after():
        return
    path = socket_path()
    if path is None or _answers(path):
        return
    try:
        _own_directory(path.parent)
        first = path.with_suffix(".first-build")
        descriptor = os.open(first, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "wb") as request:
            request.write(_line(_request(argv, tty=[False, False])))  # its output is dropped
        _spawn(path, AUTO_IDLE_TIMEOUT, ["--first-build", str(first)])
    except OSError:
        return  # the next build runs here too: nothing is lost
    print(f"gopc: started a build server for the next builds: they reuse this program in memory (`gopc serve "
          f"--status`; it stops after {AUTO_IDLE_TIMEOUT / 60:g} min without a build; GOPC_NO_SERVER=1 builds here "
          f"alone)", file=sys.stderr)


def _request(argv: list[str], tty: list[bool]) -> dict:
    """What a server needs to run `gopc build argv` as this process would (`_as_client`)."""
    return {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask(), "tty": tty}


def _serve_after() -> float:
    try:
        return float(os.environ.get("GOPC_SERVE_AFTER", SERVE_AFTER))
    except ValueError:
        return SERVE_AFTER


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _line(message: dict) -> bytes:
    return json.dumps(message).encode("utf-8", "surrogateescape") + b"\n"


def _read_line(connection: socket.socket) -> dict | None:
    """One JSON message, or None when the peer closed before a whole one."""
    chunks = []
    while True:
        chunk = connection.recv(1 << 16)
        if not chunk:
            return None
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    try:
        message = json.loads(b"".join(chunks).decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


# ---- the command: `gopc serve`

def run(args, reporter: Reporter) -> int:
    from gop.compiler.diagnostics import codes

    path = socket_path()
    if path is None:
        return reporter.fail(codes.CANNOT_SERVE, "no build server here: there is no cache directory, or no path short enough "
                                                 "for a socket (set XDG_RUNTIME_DIR to a short directory)")
    if args.stop or args.status:
        return _control(path, "stop" if args.stop else "status", reporter)
    if args.detach:
        return _detach(path, args.idle_timeout, reporter)
    try:
        server = BuildServer(path, args.command_line, args.idle_timeout)
    except ServerRunning:
        return reporter.fail(codes.CANNOT_SERVE, f"a build server is already running on {path}", EXIT_USAGE)
    except OSError as error:
        return reporter.fail(codes.CANNOT_SERVE, f"cannot listen on {path}: {error}", EXIT_USAGE)
    with server:
        reporter.say(f"gopc serve: serving `gopc build` on {path} (pid {os.getpid()}); stops after "
                     f"{args.idle_timeout:g} s without a build, or on `gopc serve --stop`")
        if args.first_build:
            server.first_build(Path(args.first_build))
        server.serve()
    return EXIT_OK


def _control(path: Path, what: str, reporter: Reporter) -> int:
    from gop.compiler.diagnostics import codes

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(10.0)
        connection.connect(str(path))
        connection.sendall(_line({"control": what}))
        reply = _read_line(connection)
    except OSError:
        reply = None
    finally:
        connection.close()
    if reply is None:
        if what == "stop":
            reporter.say(f"gopc serve: no build server is running on {path}")
            return EXIT_OK
        return reporter.fail(codes.CANNOT_SERVE, f"no build server is running on {path}", EXIT_USAGE)
    if what == "stop":
        reporter.say(f"gopc serve: stopped the build server on {path} (pid {reply['pid']})")
    else:
        print(f"pid {reply['pid']}, up {reply['uptime']:.0f} s, {reply['builds']} builds served, "
              f"{reply['cpu']:.2f} s CPU, peak {reply['peak_mb']:.0f} MB; socket {path}")
        for program in reply["programs"]:
            print(f"  keeps {program}")
        for output in reply.get("outputs", ()):
            print(f"  builds into {output}")
    return EXIT_OK


def _detach(path: Path, idle_timeout: float, reporter: Reporter) -> int:
    """Start a server in the background (its own session, its log beside the socket) and return
    once it answers."""
    from gop.compiler.diagnostics import codes

    if _answers(path):
        reporter.say(f"gopc serve: a build server is already running on {path}")
        return EXIT_OK
    try:
        _own_directory(path.parent)
    except OSError as error:
        return reporter.fail(codes.CANNOT_SERVE, f"cannot listen on {path}: {error}", EXIT_USAGE)
    log = path.with_suffix(".log")
    process = _spawn(path, idle_timeout)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _answers(path):
            if process.poll() is not None:  # another `--detach` started one first: ours found it running
                reporter.say(f"gopc serve: a build server is already running on {path}")
                return EXIT_OK
            reporter.say(f"gopc serve: serving `gopc build` on {path} (pid {process.pid}, log {log}); stops after "
                         f"{idle_timeout:g} s without a build, or on `gopc serve --stop`")
            return EXIT_OK
        if process.poll() is not None:
            break
        time.sleep(0.05)
    return reporter.fail(codes.CANNOT_SERVE, f"the build server did not start (see {log})", EXIT_USAGE)


def _spawn(path: Path, idle_timeout: float, extra: list[str] = ()):
    """A `gopc serve` process in the background: its own session, its output in the log beside `path`."""
    import subprocess

    with open(path.with_suffix(".log"), "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "gop.compiler.cli", "serve", "--idle-timeout", str(idle_timeout), *extra],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/")


def _answers(path: Path) -> bool:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(2.0)
        connection.connect(str(path))
        connection.sendall(_line({"control": "ping"}))
        return _read_line(connection) is not None
    except OSError:
        return False
    finally:
        connection.close()


class ServerRunning(Exception):
    """Another server holds this socket's lock."""


class BuildServer:
    """Listens on `path`, serves one request at a time; a context manager that removes its socket
    and releases its lock on exit."""

    def __init__(self, path: Path, command_line, idle_timeout: float = IDLE_TIMEOUT) -> None:
        """`command_line`: `cli.main`, which runs each build as `gopc build` does in its own process."""
        _own_directory(path.parent)
        self.path = path
        self.command_line = command_line
        self.idle_timeout = idle_timeout
        self._lock = _locked(path.with_suffix(".lock"))
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a server killed outright left it
            self._listener.bind(str(path))
            self._listener.listen(16)
        except OSError:
            self._listener.close()
            os.unlink(self._lock.name)
            self._lock.close()
            raise
        self._bound_inode = os.stat(path).st_ino  # what __exit__ removes: never another server's socket
        self._sessions: dict[tuple, object] = {}  # (cwd, paths, cache directory): Session, the most recent last
        self._started = time.monotonic()
        self._builds = 0
        self._stopping = False
        self._built = None  # the session of the build being served, settled once its reply is sent
        self._request: dict | None = None  # the request being served
        self._when_idle: tuple[dict, object] | None = None  # (request, work) to do once no client asks

    def __enter__(self) -> BuildServer:
        signal.signal(signal.SIGTERM, self._stop_on_signal)
        return self

    def __exit__(self, *exc) -> None:
        self._listener.close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._bound_inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            os.unlink(self._lock.name)  # before releasing it: `_locked` checks that what it locked is still there
        self._lock.close()

    def _stop_on_signal(self, *_) -> None:
        self._stopping = True
        self._listener.close()

    def serve(self) -> None:
        """Until idle for `idle_timeout` seconds, stopped, or signalled."""
        from gop.compiler.core.collector import serving_builds

        serving_builds()
        idle_since = time.monotonic()
        while not self._stopping:
            work_due = self._when_idle is not None
            self._listener.settimeout(WORK_AFTER_IDLE if work_due
                                      else max(0.0, self.idle_timeout - (time.monotonic() - idle_since)))
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                if work_due:
                    self._idle_work()
                    continue
                print(f"gopc serve: no build for {self.idle_timeout:g} s: stopping", file=sys.stderr)
                return
            except OSError:  # closed by SIGTERM
                return
            with connection:
                self._serve_one(connection)
            idle_since = time.monotonic()

    def first_build(self, request_file: Path) -> None:
        """Build what the client that started this server built (`start_for_next_builds`: its
        request, in a file only its user may read, removed once read), its output dropped: the
        next build, after an edit, finds the program in memory and the output tree watched."""
        try:
            with open(request_file, "rb") as file:
                request = json.loads(file.readline())
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                os.unlink(request_file)
        if not isinstance(request, dict):
            return
        try:
            self._reply(request)
        except Exception:  # as `_serve_one`: logged; the next build is served, or built by its client
            import traceback

            traceback.print_exc()
        self._after_reply()

    def when_idle(self, work) -> None:
        """Do `work` (the build's run memo: `commands.runmemo`, which walks the whole output tree)
        for the build being served once no client has asked for `WORK_AFTER_IDLE` seconds, in
        that build's client's directory and environment; not at all if another build comes
        first (a `--status` in between leaves it due)."""
        self._when_idle = (self._request, work)

    def _idle_work(self) -> None:
        (request, work), self._when_idle = self._when_idle, None
        try:
            with _as_client(request):
                work()
        except Exception:  # the memo is an optimisation: a fault is logged, never served
            import traceback

            traceback.print_exc()

    def _serve_one(self, connection: socket.socket) -> None:
        connection.settimeout(30.0)  # a client sends its request at once
        try:
            if not _same_user(connection):
                return
            request = _read_line(connection)
            if request is None:
                return
            connection.settimeout(None)
            try:
                reply = self._reply(request)
            except Exception:  # a fault of the server's own: the client builds itself; the log says why
                import traceback

                traceback.print_exc()
                reply = {"code": None}
            connection.sendall(_line(reply))
        except OSError:  # the client went away (Ctrl-C): its build, if any, ran to its end
            pass
        self._after_reply()

    def _reply(self, request: dict) -> dict:
        control = request.get("control")
        if control is not None:
            return self._control_reply(control)
        argv = request.get("argv")
        if not isinstance(argv, list) or argv[:1] != ["build"] or not all(isinstance(a, str) for a in argv):
            return {"code": None}
        started = time.perf_counter()
        self._request, self._when_idle = request, None  # what the last build left undone no longer describes the tree
        try:
            with _as_client(request) as output:
                code = self.command_line(argv, resident=self)
        except (OSError, KeyError, TypeError, ValueError):  # a working directory gone, a malformed request
            return {"code": None}  # the client builds itself, and reports what it finds
        self._builds += 1
        print(f"gopc serve: {' '.join(argv)} (in {request['cwd']}): exit {code} in {time.perf_counter() - started:.2f} s",
              file=sys.stderr)
        return {"code": code, "output": output}

    def _control_reply(self, control: str) -> dict:
        if control == "stop":
            self._stopping = True
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"pid": os.getpid(), "uptime": time.monotonic() - self._started, "builds": self._builds,
                "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
                "programs": [f"{' '.join(key[1])} (in {key[0]})" for key in self._sessions],
                "outputs": [_output_state(out, index) for session in self._sessions.values()
                            for out, index in session.output_indexes.items()]}

    def _after_reply(self) -> None:
        """What the client need not wait for: the trees parsed for the first time go to the disk
        cache, and the session that built is settled (`Session.settle`: what the build left is
        collected and the rest frozen, all of it every so often), while the next client starts."""
        built, self._built = self._built, None
        if built is not None:
            built.parses.write_pending()
            built.settle()

    def session_for(self, paths: list[str], disk) -> object:
        """The session that builds `paths` from the current working directory with `disk`: the one
        kept from earlier builds of them, else a new one (the oldest dropped beyond PROGRAMS_KEPT)."""
        from gop.compiler.session import ParseCache, Session

        key = (os.getcwd(), tuple(paths), str(disk.directory) if disk is not None else None)
        session = self._sessions.pop(key, None)
        if session is None:
            session = Session(parses=ParseCache(disk=disk), disk=disk)
        self._sessions[key] = self._built = session
        while len(self._sessions) > PROGRAMS_KEPT:
            self._sessions.pop(next(iter(self._sessions))).drop_outputs()
        return session


def _output_state(out: str, index) -> str:
    """An output directory the server built into, and whether its tree is watched (`emit.treewatch`)."""
    if index.watch is not None and index.watch.watches():
        return f"{out}: its tree watched ({index.watch.watches()} watches)"
    return f"{out}: its tree listed at each build ({index.watch_refused or 'not watched yet'})"


def _own_directory(directory: Path) -> None:
    """Make `directory` (mode 0700) or check an existing one is the user's, and make it 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_uid != os.getuid():
        raise PermissionError(f"{directory} is another user's")
    os.chmod(directory, 0o700)


def _locked(path: Path):
    """The lock file at `path`, open and locked; ServerRunning when another server holds it. A
    server that stops removes its lock file before releasing it, so a lock taken on a file no
    longer at `path` is taken again on the new one."""
    import fcntl

    while True:
        lock = open(path, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise ServerRunning() from None
        try:
            if os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino:
                return lock
        except FileNotFoundError:
            pass
        lock.close()


def _same_user(connection: socket.socket) -> bool:
    peer_credentials = getattr(socket, "SO_PEERCRED", None)
    if peer_credentials is None:
        return True  # the socket's directory is the user's own (mode 0700)
    _, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, peer_credentials, struct.calcsize("3i")))
    return uid == os.getuid()


class _Captured(io.TextIOBase):
    """A client's stdout (1) or stderr (2): what is written goes to `output` as (1 or 2, text), in
    the order written to either, and it is a terminal when the client's is (for `--color auto`)."""

    def __init__(self, number: int, tty: bool, output: list[tuple[int, str]]) -> None:
        super().__init__()
        self._number, self._tty, self._output = number, tty, output

    def write(self, text: str) -> int:
        if self._output and self._output[-1][0] == self._number:
            self._output[-1] = (self._number, self._output[-1][1] + text)
        else:
            self._output.append((self._number, text))
        return len(text)

    def isatty(self) -> bool:
        return self._tty

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def _as_client(request: dict):
    """The process as the client's: its environment, working directory and umask, and stdout and
    stderr captured (in the list it yields, in the order written); all restored after."""
    saved_environment, saved_directory = dict(os.environ), os.getcwd()
    saved_streams = sys.stdout, sys.stderr
    output: list[tuple[int, str]] = []
    stdout, stderr = (_Captured(number, bool(tty), output) for number, tty in zip((1, 2), request["tty"]))
    os.chdir(request["cwd"])
    saved_umask = os.umask(int(request["umask"]))
    try:
        os.environ.clear()
        os.environ.update({str(name): str(value) for name, value in request["env"].items()})
        sys.stdout, sys.stderr = stdout, stderr
        yield output
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_environment)
        os.umask(saved_umask)
        os.chdir(saved_directory)
