"""gopc, the compiler of .gop programs to a Flux v2 GitOps repository (docs/architecture.md maps its
packages). `gopc_version` is here because both the CLI and the language server report it."""


def gopc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # slow to import; only --version needs it

    try:
        return version("gopc")
    except PackageNotFoundError:
        return "0.0.0"
