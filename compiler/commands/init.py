"""`gopc init DIR`: a small, valid starter program (labels, envs, clusters, one app).

Input: a directory (created when missing). Output: the starter files, never overwriting
an existing file. The starter checks clean and builds.
"""

from __future__ import annotations

from pathlib import Path

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
