"""Load pass: paths on the command line -> parsed files grouped into modules.

Input: files and directories (searched recursively for `*.gop`), plus optional
in-memory overlays (unsaved editor buffers, by absolute path). Output: a
`Program`: every source file (also those reached only through `import`), its
syntax tree, the modules (a module is one directory's `.gop` files), the
prelude module, and the load and syntax diagnostics.

Invariants: each file is read and parsed once, whatever the number of routes to
it; file keys are display paths (relative to the working directory when below
it); unreadable or non-UTF-8 files give E0901, never an exception. Only regular
files of at most `MAX_SOURCE_BYTES` are read (`readfile`: a FIFO or a link to a
device is reported, never waited on), and a file found in a directory (one named
on the command line, or an imported module's) must resolve inside that directory;
the walk does not follow symlinked directories.
"""

from __future__ import annotations

import bisect
import importlib.resources
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Diagnostic, Fix, diagnostic
from gop.compiler.syntax.parser import ParseResult, parse
from gop.compiler.syntax.readfile import UnreadableFile, printable, read_program_file
from gop.compiler.core.span import SourceFile, Span
from gop.compiler.diagnostics import codes
from gop.compiler.language import STD_PREFIX

PRELUDE_NAME = "<std>/prelude.gop"
MAX_SOURCE_BYTES = 16 << 20  # far above any hand-written or generated program's file


@dataclass(slots=True)
class Module:
    key: str  # the directory (display form), or "std/<name>" for the standard library
    files: list[str] = field(default_factory=list)  # display paths, sorted
    is_std: bool = False


@dataclass(slots=True)
class Program:
    root: Path
    sources: dict[str, SourceFile] = field(default_factory=dict)
    files: dict[str, ast.File] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)
    module_of: dict[str, str] = field(default_factory=dict)  # file -> module key
    imports: dict[int, str] = field(default_factory=dict)  # id(ImportDecl) -> module key
    diagnostics: list[Diagnostic] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)  # files named on the command line (directly or by directory)

    def package_of(self, module: str) -> str:
        """A module's package name: its `package` clause, else its directory's name (the default import alias)."""
        for path in self.modules[module].files:
            package = self.files[path].package
            if package is not None:
                return package.name.text
        return module.rstrip("/").rsplit("/", 1)[-1]


def gop_files(directory: Path) -> list[Path]:
    """The .gop files below `directory`, sorted (as paths sort: by their parts), hidden files and
    directories and symlinked directories skipped, unreadable directories too. (What `rglob` gives
    without the hidden ones, in a third of its time: the language server lists the workspace at
    every analysis.)"""
    found: list[tuple[tuple[str, ...], Path]] = []
    _add_gop_files(directory, (), found)
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


def _add_gop_files(directory: Path, parts: tuple[str, ...], found: list) -> None:
    """Append (the sort key of its parts below the walk's top, path) of each .gop file below `directory`."""
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except OSError:  # unreadable, or gone
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        key = (*parts, os.path.normcase(name))  # paths compare their parts case-folded where the system does
        if name.endswith(".gop"):
            found.append((key, directory / name))
        try:
            below = entry.is_dir(follow_symlinks=False)
        except OSError:
            below = False
        if below:
            _add_gop_files(directory / name, key, found)


def has_gop_files(directory: Path) -> bool:
    """`directory` directly holds a `.gop` file."""
    try:
        return any(p.suffix == ".gop" and p.is_file() for p in directory.iterdir())
    except OSError:
        return False


def enclosing_program(file: Path, limit: Path | None = None) -> Path:
    """The directory of the program `file` belongs to: the highest directory above it such that it
    and every directory on the way hold `.gop` files, not above `limit` (`gopc check FILE`, and
    the language server's project root)."""
    directory = file.parent
    while directory != limit and directory.parent != directory and has_gop_files(directory.parent):
        directory = directory.parent
    return directory


def display_path(path: Path, cwd: str | None = None) -> str:
    """`path` relative to the working directory when below it (`cwd`: `_cwd()`, when the caller has it)."""
    absolute = os.path.abspath(path)
    cwd = cwd or _cwd()
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd + os.sep):
        return absolute[len(cwd) + 1 :]
    return absolute


def _cwd() -> str:
    return os.path.abspath(os.getcwd())


def load(paths: Iterable[str | Path], overlays: Mapping[str, str] | None = None, *,
         parse: Callable[[str, str], ParseResult] = parse,
         source_file: Callable[[str, str], SourceFile] = SourceFile) -> Program:
    """`parse` and `source_file` may be replaced by memoised equivalents (the language server's cache)."""
    paths = [Path(p) for p in paths]
    root = _program_root(paths)
    program = Program(root=root)
    loader = _Loader(program, overlays or {}, parse, source_file)
    loader.load_prelude()
    for path in paths:
        loader.load_root(path)
    return program


def prelude_text() -> str:
    """The text of the standard library's prelude (`PRELUDE_NAME`), which every program loads first."""
    return importlib.resources.files("gop.stdlib").joinpath("prelude.gop").read_text(encoding="utf-8")


def _program_root(paths: list[Path]) -> Path:
    if not paths:
        return Path.cwd()
    first = paths[0].resolve() if paths[0].exists() else paths[0].absolute()
    return first if first.is_dir() else first.parent


class _Loader:
    def __init__(self, program: Program, overlays: Mapping[str, str], parse: Callable[[str, str], ParseResult],
                 source_file: Callable[[str, str], SourceFile]) -> None:
        self.program = program
        self.parse = parse
        self.source_file = source_file
        self.cwd = _cwd()
        self.modules_seen: dict[tuple[Path, str], tuple[Path, list[Path] | None]] = {}
        self.overlays = {str(Path(k).resolve()): v for k, v in overlays.items()}
        self.loading: list[str] = []
        # Per directory (by its path's text), once per load: a directory holds many files.
        self._resolved_dirs: dict[str, str] = {}
        self._display_dirs: dict[str, str] = {}
        # Each module whose files are all loaded, by the id of its list of files (`modules_seen`'s, kept
        # for the load): its display path. Most files import the same few modules.
        self._modules_loaded: dict[int, str] = {}

    def load_prelude(self) -> None:
        self._add_file(PRELUDE_NAME, prelude_text(), "std/prelude", is_std=True)

    def load_root(self, path: Path) -> None:
        if path.is_dir():
            found = gop_files(path)
            if not found:
                self._io_error(self._display(path), f"no .gop files in directory `{self._display(path)}`")
            for file in found:
                self._load_path(file, root=True, inside=path)
        elif os.path.lexists(path) or str(path.resolve()) in self.overlays:
            self._load_path(path, root=True)
        else:
            self._io_error(str(path), f"no such file or directory: `{path}`")

    def _load_path(self, path: Path, root: bool = False, inside: Path | None = None) -> str | None:
        """`inside`: the directory `path` was found in, which it must not leave through a symlink."""
        display = self._display(path)
        if display in self.program.files:
            if root and display not in self.program.roots:
                self.program.roots.append(display)
            return display
        text = self._read(path, display, inside)
        if text is None:
            return None
        module_key = self._display_dir(path.parent)
        self._add_file(display, text, module_key)
        if root:
            self.program.roots.append(display)
        self._load_imports(display, path.parent)
        return display

    def _read(self, path: Path, display: str, inside: Path | None) -> str | None:
        resolved = None if "\x00" in str(path) else self._resolved(path)  # read_program_file reports a NUL
        if resolved in self.overlays:
            return self.overlays[resolved]
        try:
            data = read_program_file(path, f"`{display}`", inside=inside, limit=MAX_SOURCE_BYTES, resolved=resolved,
                                     resolved_inside=None if inside is None else self._resolved_dir(inside))
        except UnreadableFile as error:
            self._io_error(display, error.message)
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            self._io_error(display, f"`{display}` is not UTF-8 text (byte {error.start})")
            return None

    def _resolved(self, path: Path) -> str:
        """`os.path.realpath(path)`, with its directory resolved once per load."""
        if path.name in ("", ".", ".."):
            return os.path.realpath(path)
        joined = os.path.join(self._resolved_dir(path.parent), path.name)
        try:
            if not stat.S_ISLNK(os.lstat(joined).st_mode):
                return joined
        except OSError:
            pass  # realpath says what a path that cannot be looked at resolves to
        return os.path.realpath(joined)

    def _resolved_dir(self, directory: Path) -> str:
        key = str(directory)
        resolved = self._resolved_dirs.get(key)
        if resolved is None:
            resolved = self._resolved_dirs[key] = os.path.realpath(key)
        return resolved

    def _display(self, path: Path) -> str:
        return display_path(path, self.cwd)

    def _display_dir(self, directory: Path) -> str:
        key = str(directory)
        shown = self._display_dirs.get(key)
        if shown is None:
            shown = self._display_dirs[key] = self._display(directory)
        return shown

    def _add_file(self, display: str, text: str, module_key: str, is_std: bool = False) -> None:
        result = self.parse(display, text)
        self.program.sources[display] = self.source_file(display, text)
        self.program.files[display] = result.file
        self.program.diagnostics.extend(result.diagnostics)
        module = self.program.modules.setdefault(module_key, Module(module_key, is_std=is_std))
        bisect.insort(module.files, display)
        self.program.module_of[display] = module_key

    def _load_imports(self, display: str, directory: Path) -> None:
        for decl in self.program.files[display].imports:
            target = decl.path.plain_value
            if target.startswith(STD_PREFIX) or target == "std":
                self._import_std(decl, target)
                continue
            module_dir, files = self._module_files(directory, target)
            if files is None:
                self._missing_module(decl, target, module_dir)
                continue
            if not files:
                self.program.diagnostics.append(
                    diagnostic(codes.MODULE_NOT_FOUND, decl.path.span, f"module `{target}` has no .gop files")
                )
                continue
            shown = self._modules_loaded.get(id(files))
            if shown is None:
                loaded = [file for file in files if self._load_path(file, inside=module_dir) is not None]
                if not loaded:  # every file of the module was reported unreadable
                    continue
                shown = self._display(module_dir)
                if len(loaded) == len(files):  # loading it again would only find every file loaded
                    self._modules_loaded[id(files)] = shown
            self.program.imports[id(decl)] = shown

    def _missing_module(self, decl: ast.ImportDecl, target: str, module_dir: Path) -> None:
        """E0203 for an import of a directory that does not exist, with the closest sibling
        directory holding .gop files as the fix (`./libs` -> `./lib`)."""
        from gop.compiler.diagnostics.suggest import did_you_mean

        notes, fixes = [f"looked for the directory {self._display(module_dir)}"], []
        parent = module_dir.parent
        siblings = [entry.name for entry in _subdirectories(parent) if not entry.name.startswith(".") and any(entry.glob("*.gop"))]
        hint = did_you_mean(module_dir.name, siblings)
        if hint is not None:
            stem = target.rstrip("/")
            suggested = stem[: len(stem) - len(stem.rsplit("/", 1)[-1])] + hint
            notes.insert(0, f"did you mean `{suggested}`?")
            fixes.append(Fix(decl.path.span, f'"{suggested}"', f"change to `{suggested}`"))
        self.program.diagnostics.append(
            diagnostic(codes.MODULE_NOT_FOUND, decl.path.span, f"cannot find module `{target}`", notes=notes, fixes=fixes))

    def _module_files(self, directory: Path, target: str) -> tuple[Path, list[Path] | None]:
        """The directory an import names and its .gop files (None: no such directory); many files
        import the same module, so each directory is looked at once."""
        key = (directory, target)
        if key not in self.modules_seen:
            try:
                module_dir = (directory / target).resolve()
                files = sorted(module_dir.glob("*.gop")) if module_dir.is_dir() else None
            except (OSError, ValueError):  # a name the OS refuses: too long, or with a NUL
                module_dir, files = directory / printable(target), None
            self.modules_seen[key] = (module_dir, files)
        return self.modules_seen[key]

    def _import_std(self, decl: ast.ImportDecl, target: str) -> None:
        name = target[len(STD_PREFIX):] if target.startswith(STD_PREFIX) else ""
        available = sorted(
            entry.name[:-4] for entry in importlib.resources.files("gop.stdlib").iterdir() if entry.name.endswith(".gop")
        )
        if name not in available:
            from gop.compiler.diagnostics.suggest import did_you_mean

            hint = did_you_mean(name, available)
            notes = (f"did you mean `std/{hint}`?",) if hint else (f"the standard library has: {', '.join('std/' + a for a in available)}",)
            self.program.diagnostics.append(diagnostic(codes.MODULE_NOT_FOUND, decl.path.span, f"cannot find module `{target}`", notes=notes))
            return
        key = f"std/{name}"
        if key not in self.program.modules:
            text = importlib.resources.files("gop.stdlib").joinpath(f"{name}.gop").read_text(encoding="utf-8")
            self._add_file(f"<std>/{name}.gop", text, key, is_std=True)
        self.program.imports[id(decl)] = key

    def _io_error(self, display: str, message: str) -> None:
        self.program.sources.setdefault(display, SourceFile(display, ""))
        self.program.diagnostics.append(diagnostic(codes.CANNOT_READ_FILE, Span(display, 0, 0), message))


def _subdirectories(directory: Path) -> list[Path]:
    try:
        return sorted(entry for entry in directory.iterdir() if entry.is_dir())
    except OSError:
        return []


def is_std_file(path: str) -> bool:
    return path.startswith("<std>/")
