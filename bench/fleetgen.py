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

The language's other declarations each have a `--with` option that turns a share of the same units into
them, as programs use them (examples/kustomize-helm, examples/multi-tenancy), so a fleet with one
keeps the plain fleet's size and can be compared with it:
- `--with releases`: every 4th unit (index 1 mod 4) is a `release` of a third-party chart (podinfo
  6.14.1, vendored with its charts.lock from examples/multi-tenancy, so its values are typed by the
  chart's values.yaml), with values that read `${env.name}`; env and cluster overrides of such a
  unit set `values.replicaCount`;
- `--with resources`: every 4th unit (index 2 mod 4) is a `resource`: a ConfigMap or a ResourceQuota
  written inline, or (index 10 mod 12) a NetworkPolicy read from a YAML file of the program; env
  and cluster overrides set a field of the inline ones (a file resource takes none);
- `--with tenants`: a `tenant` per two team namespaces (role `edit`), listing the apps, releases and
  resources of its namespaces; an app's dependency is then on the app 20 before it, in its own
  namespace (a tenant's HelmRelease may depend only on releases of its namespace, E1203).
A dependency is kept only between two apps.

With `--pkl DIR` the same fleet is also written in Pkl (bench/pklfleet.py): `pkl eval -m OUT
DIR/fleet.pkl` writes what `gopc render --all-clusters -o OUT` writes, one file per cluster.

    python bench/fleetgen.py OUT_DIR --apps 100 --envs 3 --clusters 30 [--per-cluster-values] [--templated]
                             [--with releases|resources|tenants ...] [--pkl DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pklfleet import pkl_program

REGIONS = ("us-east-1", "eu-central-1", "cn-north-1")
FEATURES = ("releases", "resources", "tenants")
# The vendored third-party chart of `--with releases` (with its charts.lock).
CHART_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "multi-tenancy"


def env_names(count: int) -> list[str]:
    base = ["dev", "staging", "prod"]
    return base[:count] if count <= 3 else base + [f"env{i}" for i in range(3, count)]


def generate(out: Path, apps: int, envs: int, clusters: int, per_cluster_values: bool = False,
             templated: bool = False, features: frozenset[str] = frozenset()) -> list[Path]:
    """Write the fleet; `features` (of FEATURES) turn a share of its units into other declarations."""
    if templated and features:
        raise ValueError("--templated writes apps only: it does not combine with " + ", ".join(sorted(features)))
    out.mkdir(parents=True, exist_ok=True)
    names = env_names(envs)
    kinds = [_kind(index, features) for index in range(apps)]
    written = [
        _write(out / "lib" / "types.gop", _lib(names)),
        _write(out / "fleet.gop", _fleet()),
        _write(out / "envs.gop", _envs(names, apps, kinds)),
        _write(out / "clusters.gop", _clusters(names, clusters, apps, per_cluster_values, kinds)),
    ]
    if templated:
        return written + [_write(out / "apps.gop", _templated_apps(apps))]
    for index in range(apps):
        written += _unit(out, index, kinds, "tenants" in features)
    if "releases" in features:
        written += _vendor_chart(out)
    if "tenants" in features:
        written.append(_write(out / "tenants.gop", _tenants(kinds)))
    return written


def generate_pkl_fleet(out: Path, apps: int, envs: int, clusters: int, per_cluster_values: bool = False) -> list[Path]:
    """The plain fleet of the same sizes as a Pkl program (bench/pklfleet.py)."""
    files = pkl_program(apps, env_names(envs), REGIONS, clusters, per_cluster_values, _outside_cn, _depends_on)
    return [_write(out / path, text) for path, text in files.items()]


def _kind(index: int, features: frozenset[str]) -> str:
    """What unit `index` is: "app", "release", "resource" (inline) or "resource-file"."""
    if "releases" in features and index % 4 == 1:
        return "release"
    if "resources" in features and index % 4 == 2:
        return "resource-file" if index % 12 == 10 else "resource"
    return "app"


def _team(index: int) -> int:
    return index % 20


def _unit(out: Path, index: int, kinds: list[str], tenants: bool) -> list[Path]:
    path = out / "apps" / f"app{index:04d}.gop"
    kind = kinds[index]
    if kind == "release":
        return [_write(path, _release(index))]
    if kind == "resource":
        return [_write(path, _resource(index))]
    if kind == "resource-file":
        return [_write(path, _resource_file(index)), _write(out / "resources" / f"app{index:04d}.yaml", _policy_yaml(index))]
    depends = _depends_on(index)
    if depends is not None and tenants:  # a tenant's app may depend only on apps of its own namespace
        depends = f"app{index - 20:04d}" if index >= 20 else None
    if depends is not None and kinds[int(depends[3:])] != "app":
        depends = None
    return [_write(path, _app(index, depends))]


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


def _override(index: int, kinds: list[str], replicas: int) -> str:
    """An env's or cluster's override of unit `index`'s replicas, as its kind writes it ("" for
    a resource read from a file, which takes no fields)."""
    name = f"app{index:04d}"
    kind = kinds[index] if kinds else "app"
    if kind == "release":
        return f"release {name} {{ values.replicaCount = {replicas} }}"
    if kind == "resource":
        field = f'data.replicas = "{replicas}"' if index % 12 != 6 else f"spec.hard.pods = {10 * replicas}"
        return f"resource {name} {{ {field} }}"
    return "" if kind == "resource-file" else f"app {name} {{ replicas = {replicas} }}"


def _envs(names: list[str], apps: int, kinds: list[str] | None = None) -> str:
    parts = ["package fleet\n"]
    for position, name in enumerate(names):
        replicas = 2 + 2 * position
        pull = "Always" if name == "prod" else "IfNotPresent"
        level = "debug" if name == "dev" else "info"
        written = _override(position % max(apps, 1), kinds or [], replicas + 1)
        override = f"\n  {written}" if written else ""
        parts.append(f'''env {name} where environment == "{name}" {{
  all {{
    replicas = {replicas}
    image.pullPolicy = "{pull}"
    values.logLevel = "{level}"
  }}{override}
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


def _clusters(names: list[str], count: int, apps: int, per_cluster_values: bool = False,
              kinds: list[str] | None = None) -> str:
    parts = ["package fleet\n"]
    for index in range(count):
        env = names[index % len(names)]
        region = REGIONS[(index // len(names)) % len(REGIONS)]
        tier = ', tier = "gold"' if index % 5 == 0 else ""
        written = _override(index % max(apps, 1), kinds or [], 9) if index % 7 == 0 else ""
        override = f"\n  {written}" if written else ""
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


def _app(index: int, depends_on: str | None) -> str:
    depends = f"\n  delivery {{ dependsOn = [{depends_on}] }}" if depends_on else ""
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


def _release(index: int) -> str:
    placement = ' where region != "cn-north-1"' if _outside_cn(index) else ""
    return f'''package fleet

/// Service number {index}, from its upstream chart.
release app{index:04d}{placement} {{
  chart {{
    repository = "https://stefanprodan.github.io/podinfo"
    name = "podinfo"
    version = "6.14.x"
  }}
  namespace = "team{_team(index):02d}"
  values {{
    replicaCount = 1
    ui.message = "app{index:04d} in ${{env.name}}"
    ingress {{
      enabled = true
      className = "nginx"
      hosts = [{{ host = "app{index:04d}.example.com", paths = [{{ path = "/", pathType = "Prefix" }}] }}]
    }}
    resources.requests {{ cpu = "100m", memory = "64Mi" }}
  }}
}}
'''


def _resource(index: int) -> str:
    placement = ' where region != "cn-north-1"' if _outside_cn(index) else ""
    if index % 12 == 6:
        body = f'''  apiVersion = "v1"
  kind = "ResourceQuota"
  namespace = "team{_team(index):02d}"
  spec.hard {{ pods = 50, "requests.cpu" = "{1 + index % 8}", "requests.memory" = 16Gi }}'''
    else:
        body = f'''  apiVersion = "v1"
  kind = "ConfigMap"
  namespace = "team{_team(index):02d}"
  data {{
    owner = "team{_team(index):02d}"
    capacity = "{100 + index % 900}"
    "routes.yaml" = "host: app{index:04d}.example.com\\n"
  }}'''
    return f'''package fleet

/// Service number {index}: configuration the platform applies.
resource app{index:04d}{placement} {{
{body}
}}
'''


def _resource_file(index: int) -> str:
    placement = ' where region != "cn-north-1"' if _outside_cn(index) else ""
    return f'''package fleet

/// Service number {index}: its network policy, kept as plain YAML.
resource app{index:04d}{placement} {{
  file = "resources/app{index:04d}.yaml"
  namespace = "team{_team(index):02d}"
}}
'''


def _policy_yaml(index: int) -> str:
    return f'''apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: app{index:04d}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: app{index:04d}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ingress-nginx
      ports:
        - port: 8080
          protocol: TCP
'''


def _vendor_chart(out: Path) -> list[Path]:
    """The chart of `--with releases`, vendored as `gopc chart add` leaves it."""
    sources = [CHART_EXAMPLE / "charts.lock", *sorted((CHART_EXAMPLE / "vendor").rglob("*"))]
    written = []
    for source in sources:
        if source.is_file():
            target = out / source.relative_to(CHART_EXAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            written.append(target)
    return written


def _tenant(index: int) -> int:
    return _team(index) // 2


def _tenants(kinds: list[str]) -> str:
    """A tenant per two team namespaces, listing every unit in them."""
    parts = ["package fleet\n"]
    for tenant in range(10):
        units: dict[str, list[str]] = {"apps": [], "releases": [], "resources": []}
        for index, kind in enumerate(kinds):
            if _tenant(index) == tenant:
                field = {"app": "apps", "release": "releases"}.get(kind, "resources")
                units[field].append(f"app{index:04d}")
        lists = "".join(f"\n  {field} = [{', '.join(names)}]" for field, names in units.items() if names)
        parts.append(f'''/// The teams {2 * tenant:02d} and {2 * tenant + 1:02d}.
tenant tenant{tenant:02d} {{
  namespaces = ["team{2 * tenant:02d}", "team{2 * tenant + 1:02d}"]
  role = "edit"{lists}
}}
''')
    return "\n".join(parts)


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
    parser.add_argument("--with", dest="features", action="append", default=[], choices=FEATURES,
                        help="turn a share of the units into releases, resources, or add tenants (repeatable)")
    parser.add_argument("--pkl", type=Path, metavar="DIR", help="also write the fleet as a Pkl program into DIR")
    args = parser.parse_args()
    if args.pkl and (args.templated or args.features):
        parser.error("--pkl writes the plain fleet: without --templated and --with")
    files = generate(args.out, args.apps, args.envs, args.clusters, args.per_cluster_values, args.templated,
                     frozenset(args.features))
    print(f"wrote {len(files)} files to {args.out}")
    if args.pkl:
        written = generate_pkl_fleet(args.pkl, args.apps, args.envs, args.clusters, args.per_cluster_values)
        print(f"wrote {len(written)} files to {args.pkl}")


if __name__ == "__main__":
    main()
