"""Fleet generator: writes a .gop program of A apps x E envs x C clusters.

The shape follows examples/shop: a `lib` module with shared types, one file per
app under apps/ (each importing lib and annotating its values), envs with `all`
and per-app overlays, two selector overlays, and clusters spread over envs and
three regions, some with their own overrides. Deterministic for given sizes.

With --per-cluster-values every cluster also sets its name and region in every app's env (`all {
env.CLUSTER_NAME = ..., env.CLUSTER_REGION = ... }`), so no two clusters share an object: the
second render workload of issue 17 (the first lets clusters of an env share most objects).

With `--templated` the apps are the same apps written the way a large fleet is: one template holds
what they share (image repository, ports, env, resources, probes, ingress; `${app.name}` where the
name goes), and `for` comprehensions generate them from tables with one row per app (tag, team,
capacity, timeout, dependencies); only their doc comments are missing. Envs and clusters are the same.

With `--pkl DIR` the same fleet is also written in Pkl (bench/pklfleet.py): `pkl eval -m OUT
DIR/fleet.pkl` writes what `gopc render --all-clusters -o OUT` writes, one file per cluster.

    python bench/fleetgen.py OUT_DIR --apps 100 --envs 3 --clusters 30 [--per-cluster-values] [--templated] [--pkl DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pklfleet import generate_pkl

REGIONS = ("us-east-1", "eu-central-1", "cn-north-1")


def env_names(count: int) -> list[str]:
    base = ["dev", "staging", "prod"]
    return base[:count] if count <= 3 else base + [f"env{i}" for i in range(3, count)]


def generate(out: Path, apps: int, envs: int, clusters: int, per_cluster_values: bool = False,
             templated: bool = False) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = env_names(envs)
    written = [
        _write(out / "lib" / "types.gop", _lib(names)),
        _write(out / "fleet.gop", _fleet()),
        _write(out / "envs.gop", _envs(names, apps)),
        _write(out / "clusters.gop", _clusters(names, clusters, apps, per_cluster_values)),
    ]
    if templated:
        return written + [_write(out / "apps.gop", _templated_apps(apps))]
    for index in range(apps):
        written.append(_write(out / "apps" / f"app{index:04d}.gop", _app(index, apps)))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _lib(names: list[str]) -> str:
    envs = " | ".join(f'"{n}"' for n in names)
    regions = " | ".join(f'"{r}"' for r in REGIONS)
    return f'''package lib

/// Stages of the pipeline.
type Environment = {envs}
/// Regions.
type Region = {regions}
type LogLevel = "debug" | "info" | "warn" | "error"
/// The public domain.
let domain = "example.com"

/// Values every service reads.
schema ServiceValues {{
  /// How much to log.
  logLevel: LogLevel = "info"
  /// Requests per second the service is sized for.
  capacity: int(1..100000) = 100
  /// Give up on upstream calls after this long.
  upstreamTimeout: duration(1s..5m) = 30s
  /// Feature flags.
  features: map[string]bool = {{}}
}}
'''


def _fleet() -> str:
    return '''package fleet

import "./lib"

labels {
  environment: lib.Environment
  region: lib.Region
  tier?: "gold" | "silver"
}

source flux-system {
  url = "https://github.com/acme/fleet"
  branch = "main"
}

registry charts {
  url = "oci://ghcr.io/acme/charts"
}

delivery {
  charts = "oci"
  registry = charts
}
'''


def _envs(names: list[str], apps: int) -> str:
    parts = ["package fleet\n"]
    for position, name in enumerate(names):
        replicas = 2 + 2 * position
        pull = "Always" if name == "prod" else "IfNotPresent"
        level = "debug" if name == "dev" else "info"
        parts.append(f'''env {name} where environment == "{name}" {{
  all {{
    replicas = {replicas}
    image.pullPolicy = "{pull}"
    values.logLevel = "{level}"
  }}
  app app{position % max(apps, 1):04d} {{ replicas = {replicas + 1} }}
}}
''')
    parts.append('''overlay cn-ingress where region == "cn-north-1" {
  all { ingress.className = "nginx-cn" }
}

overlay gold-capacity where tier == "gold" {
  all { values.capacity = 500 }
}
''')
    return "\n".join(parts)


def _clusters(names: list[str], count: int, apps: int, per_cluster_values: bool = False) -> str:
    parts = ["package fleet\n"]
    for index in range(count):
        env = names[index % len(names)]
        region = REGIONS[(index // len(names)) % len(REGIONS)]
        tier = ', tier = "gold"' if index % 5 == 0 else ""
        override = f"\n  app app{index % max(apps, 1):04d} {{ replicas = 9 }}" if index % 7 == 0 else ""
        if per_cluster_values:
            override += f'''\n  all {{ env.CLUSTER_NAME = "c{index:03d}-{env}", env.CLUSTER_REGION = "{region}" }}'''
        parts.append(f'''cluster c{index:03d}-{env} {{
  labels {{ environment = "{env}", region = "{region}"{tier} }}{override}
}}
''')
    return "\n".join(parts)


def _outside_cn(index: int) -> bool:
    return index % 4 == 3


def _depends_on(index: int) -> str | None:
    return f"app{index - 1:04d}" if index % 10 == 9 else None


def _app(index: int, apps: int) -> str:
    depends = f"\n  delivery {{ dependsOn = [{_depends_on(index)}] }}" if _depends_on(index) else ""
    placement = ' where region != "cn-north-1"' if _outside_cn(index) else ""
    return f'''package fleet

import "../lib"

/// Service number {index}.
app app{index:04d}{placement} {{
  image {{
    repository = "ghcr.io/acme/app{index:04d}"
    tag = "1.{index % 50}.0"
  }}
  namespace = "team{index % 20:02d}"
  replicas = 1
  ports {{ http = 8080 }}
  env {{
    SERVICE_NAME = "app{index:04d}"
    PUBLIC_URL = "https://app{index:04d}.${{lib.domain}}"
  }}
  resources {{
    requests {{ cpu = 100m, memory = 128Mi }}
    limits {{ memory = 256Mi }}
  }}
  liveness {{ path = "/healthz" }}
  ingress {{ host = "app{index:04d}.example.com", className = "nginx" }}
  values: lib.ServiceValues {{
    capacity = {100 + index % 900}
    upstreamTimeout = {5 + index % 20}s
  }}{depends}
}}
'''


_TEMPLATE = '''package fleet

import "./lib"

/// What every service of the fleet shares; `${app.name}` is the name of the app it is used by.
template service for app {
  image.repository = "ghcr.io/acme/${app.name}"
  replicas = 1
  ports { http = 8080 }
  env {
    SERVICE_NAME = "${app.name}"
    PUBLIC_URL = "https://${app.name}.${lib.domain}"
  }
  resources {
    requests { cpu = 100m, memory = 128Mi }
    limits { memory = 256Mi }
  }
  liveness { path = "/healthz" }
  ingress { host = "${app.name}.example.com", className = "nginx" }
}
'''


def _templated_apps(apps: int) -> str:
    """The template, then per kind of app (placed everywhere or outside China, with or without a
    dependency) a table with one row per app and the `for` that generates them."""
    tables: dict[tuple[bool, bool], list[str]] = {}
    for index in range(apps):
        after = f', after = ["{_depends_on(index)}"]' if _depends_on(index) else ""
        row = (f'  app{index:04d} = {{ tag = "1.{index % 50}.0", team = "team{index % 20:02d}", '
               f"capacity = {100 + index % 900}, timeout = {5 + index % 20}s{after} }}")
        tables.setdefault((_outside_cn(index), bool(after)), []).append(row)
    parts = [_TEMPLATE]
    for (outside_cn, depends), rows in sorted(tables.items()):
        table = "services" + ("_outside_cn" if outside_cn else "") + ("_after" if depends else "")
        placement = ' where region != "cn-north-1"' if outside_cn else ""
        delivery = "\n    delivery { dependsOn = svc.after }" if depends else ""
        parts.append(f"let {table} = {{\n" + "\n".join(rows) + "\n}\n")
        parts.append(f'''for name, svc in {table} {{
  app "${{name}}" uses service{placement} {{
    image.tag = svc.tag
    namespace = svc.team
    values: lib.ServiceValues {{ capacity = svc.capacity, upstreamTimeout = svc.timeout }}{delivery}
  }}
}}
''')
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--envs", type=int, default=3)
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--per-cluster-values", action="store_true", help="every cluster sets its name and region in every app")
    parser.add_argument("--templated", action="store_true", help="write the apps with a template and comprehensions")
    parser.add_argument("--pkl", type=Path, metavar="DIR", help="also write the fleet as a Pkl program into DIR")
    args = parser.parse_args()
    files = generate(args.out, args.apps, args.envs, args.clusters, args.per_cluster_values, args.templated)
    print(f"wrote {len(files)} files to {args.out}")
    if args.pkl:
        written = generate_pkl(args.pkl, args.apps, env_names(args.envs), args.clusters, args.per_cluster_values,
                               _outside_cn, _depends_on)
        print(f"wrote {len(written)} files to {args.pkl}")


if __name__ == "__main__":
    main()
