"""The fleet of bench/fleetgen.py written in Pkl, for measuring `pkl eval` beside `gopc render`.

Input: the same sizes and flags as fleetgen.generate (apps, envs, clusters, per-cluster values).
Output: the files of a Pkl program (path: text; fleetgen.py --pkl OUT writes them) whose
`pkl eval -m DIR OUT/fleet.pkl` writes one `<cluster>.yaml` per cluster holding the objects `gopc render --all-clusters -o DIR` writes for the .gop fleet of the
same sizes, in the same order. The program is written the way a Pkl user would write it: typed
classes (lib.pkl, also holding the chart: the Kubernetes objects of an app), one module per app
(apps/appNNNN.pkl, read with a glob import), the envs and overlays as data (envs.pkl), the clusters
(clusters.pkl), and fleet.pkl layering app < env < overlay < cluster and writing one file per cluster.

What differs from gopc's output (tests/test_bench_fleets.py compares the parsed documents):
- the chart version in the `helm.sh/chart` label: gopc hashes the chart's files (templates, schema),
  which the Pkl program does not have; it hashes the app's own values instead (same form,
  `0.0.0-g` and 12 hex digits, other digits);
- YAML layout only (Pkl does not indent sequences, quotes some scalars differently and does not
  start the stream with `---`); the parsed documents are equal.
Everything else (values.json, its sha256 checksum, the layering, placement) is computed the same way.
"""

from __future__ import annotations


def pkl_program(apps: int, env_names: list[str], regions: tuple[str, ...], clusters: int, per_cluster_values: bool,
                outside_cn, depends_on) -> dict[str, str]:
    """The program's files by path; `outside_cn(i)` and `depends_on(i)` are fleetgen's own rules."""
    files = {
        "lib.pkl": _LIB.replace("@ENVS@", _union(env_names)).replace("@REGIONS@", _union(regions)),
        "envs.pkl": _envs(env_names, apps),
        "clusters.pkl": _clusters(env_names, regions, clusters, apps, per_cluster_values),
        "fleet.pkl": _FLEET,
    }
    for index in range(apps):
        files[f"apps/app{index:04d}.pkl"] = _app(index, outside_cn(index), depends_on(index))
    return files


def _union(names) -> str:
    return " | ".join(f'"{name}"' for name in names)


_LIB = '''/// Types of the fleet, and its chart: the Kubernetes objects of one app.
module lib

/// Stages of the pipeline.
typealias Environment = @ENVS@
/// Regions.
typealias Region = @REGIONS@
typealias LogLevel = "debug" | "info" | "warn" | "error"
typealias PullPolicy = "Always" | "IfNotPresent" | "Never"
/// The public domain.
domain = "example.com"

/// Values every service reads (properties in key order: Helm's toJson sorts keys, and the
/// checksum of the values is taken over that text).
class ServiceValues {
  /// Requests per second the service is sized for.
  capacity: Int(isBetween(1, 100000)) = 100
  /// Feature flags.
  features: Mapping<String, Boolean> = new {}
  /// How much to log.
  logLevel: LogLevel = "info"
  /// Give up on upstream calls after this long.
  upstreamTimeout: Duration(isBetween(1.s, 5.min)) = 30.s
}

class Image {
  repository: String
  tag: String
  pullPolicy: PullPolicy = "IfNotPresent"
}

class Quantities {
  cpu: String(matches(Regex(#"[0-9]+m?"#)))?
  memory: String(matches(Regex(#"[0-9]+(Mi|Gi)"#)))
}

class Resources {
  requests: Quantities
  limits: Quantities
}

class Ingress {
  host: String
  className: String
}

class App {
  name: String
  /// false keeps the app off clusters in cn-north-1.
  inChina: Boolean = true
  image: Image
  namespace: String
  replicas: Int(isBetween(0, 1000)) = 1
  httpPort: Int(isBetween(1, 65535)) = 8080
  env: Mapping<String, String>
  resources: Resources
  livenessPath: String
  ingress: Ingress
  values: ServiceValues
  dependsOn: Listing<String>
}

/// What an env sets in all its apps, and the replicas of some of them.
class Env {
  name: Environment
  replicas: Int
  pullPolicy: PullPolicy
  logLevel: LogLevel
  appReplicas: Mapping<String, Int>
}

/// Changes to every app of the clusters it selects.
class Overlay {
  selects: (Cluster) -> Boolean
  apply: (App) -> App
}

class Cluster {
  name: String
  environment: Environment
  region: Region
  tier: ("gold" | "silver")?
  appReplicas: Mapping<String, Int>
  /// Variables set in every app's env on this cluster.
  env: Mapping<String, String>
}

local const jsonConverters = new Mapping<Class, (Any) -> Any> {
  [Duration] = (d) -> "\\(d.value)\\(d.unit)"
}

/// The chart's version: a digest of the app as written (gopc hashes the chart's files instead).
function chartVersion(app: App): String =
  "0.0.0-g" + new JsonRenderer { indent = ""; converters = jsonConverters }.renderValue(app.values).sha256.take(12)

function namespace(namespaceName: String): Dynamic = new {
  apiVersion = "v1"
  kind = "Namespace"
  metadata { name = namespaceName }
}

/// The objects of one app (already layered) on one cluster, by kind.
class Manifests {
  app: App
  chart: String

  local podSelector = new Dynamic {
    ["app.kubernetes.io/name"] = app.name
    ["app.kubernetes.io/instance"] = app.name
  }
  local chartLabels = new Dynamic {
    ["helm.sh/chart"] = "\\(app.name)-\\(chart)"
    ["app.kubernetes.io/name"] = app.name
    ["app.kubernetes.io/instance"] = app.name
    ["app.kubernetes.io/version"] = app.image.tag
    ["app.kubernetes.io/managed-by"] = "Helm"
  }
  local function metadata(suffix: String) = new Dynamic {
    name = app.name + suffix
    namespace = app.namespace
    labels = chartLabels
  }
  local valuesJson = new JsonRenderer { converters = jsonConverters }.renderValue(app.values)
  local valuesChecksum = new JsonRenderer { indent = ""; converters = jsonConverters }.renderValue(app.values).sha256
  local function spread(key: String) = new Dynamic {
    maxSkew = 1
    topologyKey = key
    whenUnsatisfiable = "ScheduleAnyway"
    labelSelector { matchLabels = podSelector }
  }

  budget: Dynamic? = if (app.replicas > 1) new {
    apiVersion = "policy/v1"
    kind = "PodDisruptionBudget"
    metadata = metadata("")
    spec { maxUnavailable = 1; selector { matchLabels = podSelector } }
  } else null

  serviceAccount: Dynamic = new {
    apiVersion = "v1"
    kind = "ServiceAccount"
    metadata = metadata("")
    automountServiceAccountToken = false
  }

  configMap: Dynamic = new {
    apiVersion = "v1"
    kind = "ConfigMap"
    metadata = metadata("-values")
    data { ["values.json"] = valuesJson }
  }

  service: Dynamic = new {
    apiVersion = "v1"
    kind = "Service"
    metadata = metadata("")
    spec {
      type = "ClusterIP"
      selector = podSelector
      ports { new { name = "http"; port = app.httpPort; targetPort = "http"; protocol = "TCP" } }
    }
  }

  deployment: Dynamic = new {
    apiVersion = "apps/v1"
    kind = "Deployment"
    metadata = metadata("")
    spec {
      replicas = app.replicas
      selector { matchLabels = podSelector }
      template {
        metadata {
          labels = (podSelector) { ["app.kubernetes.io/version"] = app.image.tag }
          annotations { ["checksum/values"] = valuesChecksum }
        }
        spec {
          serviceAccountName = app.name
          automountServiceAccountToken = false
          securityContext { runAsNonRoot = true; seccompProfile { type = "RuntimeDefault" } }
          topologySpreadConstraints {
            spread("topology.kubernetes.io/zone")
            spread("kubernetes.io/hostname")
          }
          containers {
            new {
              name = app.name
              image = "\\(app.image.repository):\\(app.image.tag)"
              imagePullPolicy = app.image.pullPolicy
              ports { new { name = "http"; containerPort = app.httpPort; protocol = "TCP" } }
              env {
                for (key in app.env.keys.toList().sort()) {
                  new { name = key; value = app.env[key] }
                }
              }
              livenessProbe {
                httpGet { path = app.livenessPath; port = "http" }
                initialDelaySeconds = 0
                periodSeconds = 10
                timeoutSeconds = 1
                failureThreshold = 3
              }
              resources {
                requests { cpu = app.resources.requests.cpu; memory = app.resources.requests.memory }
                limits { memory = app.resources.limits.memory }
              }
              securityContext {
                allowPrivilegeEscalation = false
                readOnlyRootFilesystem = true
                capabilities { drop { "ALL" } }
              }
              volumeMounts {
                new { name = "values"; mountPath = "/etc/\\(app.name)-values"; readOnly = true }
                new { name = "tmp"; mountPath = "/tmp" }
              }
            }
          }
          volumes {
            new { name = "values"; configMap { name = "\\(app.name)-values" } }
            new { name = "tmp"; emptyDir {} }
          }
        }
      }
    }
  }

  ingress: Dynamic = new {
    apiVersion = "networking.k8s.io/v1"
    kind = "Ingress"
    metadata = metadata("")
    spec {
      ingressClassName = app.ingress.className
      rules {
        new {
          host = app.ingress.host
          http {
            paths {
              new {
                path = "/"
                pathType = "Prefix"
                backend { service { name = app.name; port { name = "http" } } }
              }
            }
          }
        }
      }
    }
  }
}
'''


def _envs(env_names: list[str], apps: int) -> str:
    parts = ['import "lib.pkl"\n', "envs: Mapping<lib.Environment, lib.Env> = new {"]
    for position, name in enumerate(env_names):
        replicas = 2 + 2 * position
        pull = "Always" if name == "prod" else "IfNotPresent"
        level = "debug" if name == "dev" else "info"
        parts.append(f'''  ["{name}"] {{
    name = "{name}"
    replicas = {replicas}
    pullPolicy = "{pull}"
    logLevel = "{level}"
    appReplicas {{ ["app{position % max(apps, 1):04d}"] = {replicas + 1} }}
  }}''')
    parts.append('''}

overlays: Listing<lib.Overlay> = new {
  new { // cn-ingress
    selects = (cluster) -> cluster.region == "cn-north-1"
    apply = (app) -> (app) { ingress { className = "nginx-cn" } }
  }
  new { // gold-capacity
    selects = (cluster) -> cluster.tier == "gold"
    apply = (app) -> (app) { values { capacity = 500 } }
  }
}
''')
    return "\n".join(parts)


def _clusters(env_names: list[str], regions: tuple[str, ...], count: int, apps: int, per_cluster_values: bool) -> str:
    parts = ['import "lib.pkl"\n', "clusters: Listing<lib.Cluster> = new {"]
    for index in range(count):
        env = env_names[index % len(env_names)]
        region = regions[(index // len(env_names)) % len(regions)]
        name = f"c{index:03d}-{env}"
        lines = [f'name = "{name}"', f'environment = "{env}"', f'region = "{region}"']
        if index % 5 == 0:
            lines.append('tier = "gold"')
        if index % 7 == 0:
            lines.append(f'appReplicas {{ ["app{index % max(apps, 1):04d}"] = 9 }}')
        if per_cluster_values:
            lines.append(f'env {{ ["CLUSTER_NAME"] = "{name}"; ["CLUSTER_REGION"] = "{region}" }}')
        parts.append("  new {\n" + "".join(f"    {line}\n" for line in lines) + "  }")
    parts.append("}\n")
    return "\n".join(parts)


def _app(index: int, outside_cn: bool, depends: str | None) -> str:
    name = f"app{index:04d}"
    placement = "\n  inChina = false" if outside_cn else ""
    after = f'\n  dependsOn {{ "{depends}" }}' if depends else ""
    return f'''// Service number {index}.
import "../lib.pkl"

app: lib.App = new {{
  name = "{name}"{placement}
  image {{
    repository = "ghcr.io/acme/{name}"
    tag = "1.{index % 50}.0"
  }}
  namespace = "team{index % 20:02d}"
  replicas = 1
  env {{
    ["SERVICE_NAME"] = "{name}"
    ["PUBLIC_URL"] = "https://{name}.\\(lib.domain)"
  }}
  resources {{
    requests {{ cpu = "100m"; memory = "128Mi" }}
    limits {{ memory = "256Mi" }}
  }}
  livenessPath = "/healthz"
  ingress {{ host = "{name}.example.com"; className = "nginx" }}
  values {{
    capacity = {100 + index % 900}
    upstreamTimeout = {5 + index % 20}.s
  }}{after}
}}
'''


_FLEET = '''// The fleet: every app layered per cluster (app < env < overlay < cluster), one file per cluster.
import "lib.pkl"
import "envs.pkl"
import "clusters.pkl"
import* "apps/*.pkl" as appModules

local apps: List<lib.App> = appModules.keys.toList().sort().map((path) -> appModules[path].app)
/// Each app's chart version, worked out once per app.
local charts: Map<String, String> = apps.toMap((app) -> app.name, (app) -> lib.chartVersion(app))

local function effective(app: lib.App, cluster: lib.Cluster): lib.App =
  let (stage = envs.envs[cluster.environment]) // not `env`, which names the app's own env in its body
  let (inEnv = (app) {
    replicas = stage.appReplicas.getOrNull(app.name) ?? stage.replicas
    image { pullPolicy = stage.pullPolicy }
    values { logLevel = stage.logLevel }
  })
  let (overlaid = envs.overlays.toList().fold(inEnv, (layered, overlay) ->
    if (overlay.selects.apply(cluster)) overlay.apply.apply(layered) else layered))
  (overlaid) {
    replicas = cluster.appReplicas.getOrNull(app.name) ?? overlaid.replicas
    env { ...cluster.env }
  }

local function objects(cluster: lib.Cluster): List<Dynamic> =
  let (placed = apps.filter((app) -> app.inChina || cluster.region != "cn-north-1")
    .sortBy((app) -> "\\(app.namespace)/\\(app.name)")) // gopc's order within a kind
  let (manifests = placed.map((each) -> new lib.Manifests { app = effective(each, cluster); chart = charts[each.name] }))
  placed.map((app) -> app.namespace).toSet().toList().sort().map((name) -> lib.namespace(name))
    + manifests.map((m) -> m.budget).filterNonNull()
    + manifests.map((m) -> m.serviceAccount)
    + manifests.map((m) -> m.configMap)
    + manifests.map((m) -> m.service)
    + manifests.map((m) -> m.deployment)
    + manifests.map((m) -> m.ingress)

output {
  files {
    for (cluster in clusters.clusters) {
      ["\\(cluster.name).yaml"] {
        value = objects(cluster)
        renderer = new YamlRenderer { isStream = true }
      }
    }
  }
}
'''
