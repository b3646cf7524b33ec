"""`gopc init DIR`: a small, valid starter program (labels, envs, clusters, one app).

Input: a directory (created when missing). Output: the starter files, never overwriting
an existing file, and `wrote F` per file on stdout. The starter checks clean and builds. A file
that exists already, or a directory that cannot be written, is E0702 (span-less), exit 2.
"""

from __future__ import annotations

from pathlib import Path

from gop.compiler.commands.report import EXIT_OK, EXIT_USAGE, Reporter
from gop.compiler.diagnostics import codes

STARTER = {
    "fleet.gop": '''/// My fleet. `gopc check .` checks it, `gopc build . -o out` writes the Flux repository.
package fleet

/// Labels every cluster carries; selectors are checked against them.
labels {
  environment: "dev" | "prod"
  region: "us-east-1" | "eu-central-1"
}

/// The Git repository Flux syncs from.
source flux-system {
  url = "https://github.com/example/fleet"
  branch = "main"
}
''',
    "envs.gop": '''package fleet

env dev where environment == "dev" {
  all { replicas = 1 }
}

env prod where environment == "prod" {
  all {
    replicas = 3
    image.pullPolicy = "Always"
  }
}
''',
    "clusters.gop": '''package fleet

cluster dev-1 {
  labels { environment = "dev", region = "us-east-1" }
}

cluster prod-1 {
  labels { environment = "prod", region = "eu-central-1" }
}
''',
    "apps.gop": '''package fleet

/// A web server.
app hello {
  image {
    repository = "ghcr.io/example/hello"
    tag = "1.0.0"
  }
  ports { http = 8080 }
  liveness { path = "/healthz" }
}
''',
}


def init(directory: Path) -> list[Path]:
    """Write the starter files; raises FileExistsError naming the first file that exists."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in STARTER:
        if (directory / name).exists():
            raise FileExistsError(directory / name)
    written = []
    for name, text in STARTER.items():
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    return written


def run(args, reporter: Reporter) -> int:
    reporter.result_on_stdout = True
    try:
        written = init(Path(args.directory))
    except FileExistsError as error:
        return reporter.fail(codes.CANNOT_WRITE_OUTPUT, f"{error} exists; not overwriting anything", EXIT_USAGE)
    except OSError as error:
        return reporter.fail(codes.CANNOT_WRITE_OUTPUT, f"cannot write {args.directory}: {error.strerror or error}", EXIT_USAGE)
    for path in written:
        print(f"wrote {path}")
    print(f"next: gopc check {args.directory} && gopc build {args.directory} -o out")
    return EXIT_OK
