"""gop.compiler: the compiler of `.gop` programs - typed descriptions of Kubernetes apps, env
overlays and cluster selectors - into a Flux v2 GitOps repository (Helm charts, Kustomize trees,
Flux objects).

Input: `.gop` files and directories (plus unsaved editor buffers, for the language server).
Output: diagnostics, and on a program without errors the repository's files, the objects Flux
applies on a cluster, or the diff of two programs.

The compiler is a pipeline of pure passes - parse (`syntax`), load, resolve and typecheck
(`semantic`), evaluate (`fleet`, over `values`), lower (`lower`: Helm and Flux), emit (`emit`) -
run by `session` (which owns the caches) and driven by the `gopc` command line (`cli`, one module
per command under `commands`). `gop.lsp` serves the same analysis to editors. Each package imports
only its own layer or lower ones; docs/architecture.md maps the packages and their layers, and the
package ships `py.typed` (its annotations are part of what it offers).

`gopc_version` is here because both the CLI and the language server report it, and importing it
must not load the compiler. `VERSION` is the one place the version is written: pyproject.toml
reads it from here (reading the installed metadata back costs more than `gopc --version` may)."""

VERSION = "0.1.0"


def gopc_version() -> str:
    return VERSION
