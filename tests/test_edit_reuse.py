"""The session's reuse across analyses never shows: after each edit of a sequence, an analysis in
the language server's kind of session (a `ParseCache`, its memos of the earlier analyses) equals
a fresh analysis of the same texts: every diagnostic (in order, with notes, related spans and
fixes) and every instance of every cluster.

The program is examples/shop with one file per app, so that an edit of one app leaves the other
apps' trees, bases, instances and fleet-check calls to be reused (`EvaluationMemo`); the edits
cover each input an instance or a per-version check reads: the app's own body, a template many
apps use, an env (a conflict between overlays, a field for every app that fits none), a cluster
label, a let one app reads, `dependsOn` edges, a chart part an env adds to apps whose bases do not
change, a field set twice in an app body, an app body that reads the context and an ingress host
that is not a DNS name (each kept while another app changes), and a problem found after layering (an app's requests above the env's limits, on some
clusters) that must keep its clusters when it is reused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gop.compiler import session as sessions

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"

TEMPLATE = """package shop

/// Probes every service answers.
template probed for app {
  liveness { path = "/healthz" }
  readiness { path = "/ready" }
}
"""

OVERLAYS = """
overlay gold where tier == "gold" {
  app web { replicas = 4 }
}

overlay europe where region == "eu-central-1" {
  app web { replicas = 5 }
}
"""

STEPS = [  # (file, old text, new text, the codes the program then has (errors and warnings))
    ("envs.gop", '  app web { ingress.className = "nginx-cn" }',
     '  app web {\n    ingress.className = "nginx-cn"\n    delivery.install.retryInterval = 1m\n  }', {"E1144"}),
    ("app-cart.gop", "  replicas = 2\n", '  replicas = "two"\n', {"E1144", "E0301"}),
    ("app-cart.gop", '  replicas = "two"\n', "  replicas = 2\n", {"E1144"}),  # the earlier trees again
    ("app-web.gop", "  replicas = 2\n", "  replicas = 2\n  delivery { install { strategy = \"RetryOnFailure\" } }\n", set()),
    ("app-web.gop", '  delivery { install { strategy = "RetryOnFailure" } }\n', "", {"E1144"}),
    ("envs.gop", "    delivery.install.retryInterval = 1m\n", "", set()),
    ("templates.gop", '  readiness { path = "/ready" }\n', '  readiness { path = "/ready" }\n  replicas = 5\n', set()),
    ("templates.gop", "  replicas = 5\n", '  replicas = "five"\n', {"E0301"}),
    ("templates.gop", '  replicas = "five"\n', "", set()),
    # (the overlays' replicas for web, which autoscales in prod, also say they are not used: W1171)
    ("envs.gop", "/// China regions", OVERLAYS + "\n/// China regions", {"E0501", "W1171"}),
    ("app-cart.gop", "  replicas = 2\n", "  replicas = 3\n", {"E0501", "W1171"}),  # an app edit while a conflict stands
    ("envs.gop", OVERLAYS, "", set()),
    ("envs.gop", "    replicas = 6\n", "    replicas = 6\n    job { backoffLimit = 2 }\n", {"E1100"}),
    ("app-web.gop", "  replicas = 2\n", "  replicas = 1\n", {"E1100"}),
    ("envs.gop", "    job { backoffLimit = 2 }\n", "", set()),
    # a chart part every app needs on staging's clusters alone (their bases unchanged), then not
    ("envs.gop", '    values.logLevel = "info"\n', '    values.logLevel = "info"\n    config { MODE = "staging" }\n', set()),
    ("envs.gop", '    config { MODE = "staging" }\n', "", set()),
    ("clusters.gop", 'environment = "prod", region = "cn-north-1"', 'environment = "prod", region = "eu-central-1"', set()),
    ("clusters.gop", 'environment = "prod", region = "eu-central-1", tier = "silver"',
     'environment = "prod", region = "cn-north-1", tier = "silver"', set()),
    ("fleet.gop", 'let domain = "shop.example.com"', "let domain = 42", {"E0301"}),
    ("fleet.gop", "let domain = 42", 'let domain = "shop.example.org"', set()),
    ("app-checkout.gop", "dependsOn = [cart]", "dependsOn = [web]", set()),
    ("app-checkout.gop", "dependsOn = [web]", "dependsOn = [basket]", {"E0201"}),
    ("app-checkout.gop", "dependsOn = [basket]", "dependsOn = [cart]", set()),
    # a field set twice in one app body (a conflict at the app layer), kept while another app changes
    ("app-cart.gop", "  replicas = 3\n", "  replicas = 3\n  replicas = 4\n", {"E0501"}),
    ("app-web.gop", "  replicas = 1\n", "  replicas = 2\n", {"E0501"}),
    ("app-cart.gop", "  replicas = 4\n", "", set()),
    # an app body that reads the context, reused while another app changes
    ("app-web.gop", 'API_BASE = "https://api.${domain}"', 'API_BASE = "https://${cluster.name}.${domain}"', set()),
    ("app-cart.gop", "  replicas = 3\n", "  replicas = 2\n", set()),
    ("app-web.gop", 'API_BASE = "https://${cluster.name}.${domain}"', 'API_BASE = "https://api.${domain}"', set()),
    ("app-cart.gop", "  replicas = 2\n", "  replicas = 3\n", set()),
    # an assignment refused wherever it is written (an ingress host that is not a DNS name), kept while another app changes
    ("app-web.gop", "    host = domain\n", '    host = "shop..example.com"\n', {"E0508"}),
    ("app-cart.gop", "  replicas = 3\n", "  replicas = 2\n", {"E0508"}),
    ("app-web.gop", '    host = "shop..example.com"\n', "    host = domain\n", set()),
    ("app-cart.gop", "  replicas = 2\n", "  replicas = 3\n", set()),
    ("app-web.gop", "  ports { http = 3000 }\n", "", {"E0504"}),
    ("app-cart.gop", "  replicas = 3\n", "  replicas = 2\n", {"E0504"}),
]


def _one_file_per_app(root: Path) -> None:
    apps = root / "apps.gop"
    header, *declarations = apps.read_text(encoding="utf-8").split("\n/// ")
    for declaration in declarations:
        name = declaration.split("\napp ", 1)[1].split()[0]
        (root / f"app-{name}.gop").write_text(f"{header}\n/// {declaration.rstrip()}\n", encoding="utf-8")
    apps.unlink()


def _facts(analysis) -> tuple:
    diagnostics = [(d.code, d.severity, d.span, d.message, d.notes, d.related, d.fixes) for d in analysis.diagnostics]
    fleet = analysis.fleet
    instances = {(cluster, name): (i.env, i.values, i.origins, i.env_values, i.cluster_values)
                 for cluster, model in fleet.clusters.items() for name, i in model.instances.items()}
    apps = {name: (app.base, app.base_origins, app.features, app.clusters) for name, app in fleet.apps.items()}
    return diagnostics, instances, apps


def test_each_edit_analysed_with_reuse_equals_a_fresh_analysis(tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    _one_file_per_app(root)
    (root / "templates.gop").write_text(TEMPLATE, encoding="utf-8")
    for name in ("cart", "web"):
        path = root / f"app-{name}.gop"
        path.write_text(path.read_text(encoding="utf-8").replace(f"app {name} {{", f"app {name} uses probed {{"), encoding="utf-8")
    parses = sessions.ParseCache()  # parsing is not what is tested: both sessions parse through it
    session = sessions.Session(parses=parses)
    previous = session.analyse([root])
    assert previous.diagnostics == []
    overlays: dict[str, str] = {}
    reused_instances = 0
    for number, (name, old, new, expected) in enumerate(STEPS, 1):
        path = str(root / name)
        text = overlays.get(path) or (root / name).read_text(encoding="utf-8")
        assert old in text, f"step {number}"
        overlays[path] = text.replace(old, new, 1)
        latest = session.analyse([root], dict(overlays))
        fresh = sessions.Session(parses=parses).analyse([root], dict(overlays))  # new memos: nothing reused
        assert {d.code for d in fresh.diagnostics} == expected, f"step {number}: {[str(d) for d in fresh.diagnostics]}"
        assert _facts(latest) == _facts(fresh), f"step {number} ({name}: {old.strip()!r} -> {new.strip()!r})"
        reused_instances += sum(instance is previous.fleet.clusters[cluster].instances.get(app)
                                for cluster, model in latest.fleet.clusters.items() for app, instance in model.instances.items())
        previous = latest
    assert reused_instances > 0  # the sequence exercises the reuse
