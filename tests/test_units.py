"""Releases and resources layer like apps (the foundation of issue 12's declarations).

- a `release` or `resource` body is its own layer; env, overlay and cluster bodies target it with
  `release NAME { }` / `resource NAME { }`, with the app's precedence and provenance;
- `where` places releases, resources and namespaces on clusters;
- a target naming no declaration of its kind is an error with did-you-mean;
- `app`, `release` and `resource` stay ordinary keys where no name follows them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gop.compiler.fleet.model import Layer
from gop.compiler.session import analyse
from gop.compiler.values import plain

PROGRAM = '''package demo

source flux-system { url = "https://github.com/acme/fleet" }

namespace podinfo where environment == "prod" { labels { team = "web" } }

release podinfo {
  chart { repository = "https://stefanprodan.github.io/podinfo", name = "podinfo", version = "6.x" }
  values {
    replicaCount = 2
    release = "kept as a key"
  }
}

resource quota where environment == "prod" {
  apiVersion = "v1"
  kind = "ResourceQuota"
  namespace = "podinfo"
  spec { hard { cpu = "4" } }
}

env prod where environment == "prod" {
  release podinfo { values.replicaCount = 3 }
  resource quota { spec.hard.cpu = "8" }
}

env dev where environment == "dev" {}

overlay big where size == "big" {
  release podinfo { values.replicaCount = 5 }
}

cluster p1 { labels { environment = "prod" } }
cluster p2 {
  labels { environment = "prod", size = "big" }
  resource quota { spec.hard.cpu = "16" }
}
cluster d1 { labels { environment = "dev" } }
'''


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    root = tmp_path_factory.mktemp("units")
    (root / "main.gop").write_text(PROGRAM)
    return analyse([root])


def test_the_program_checks_clean(analysis):
    assert [d.message for d in analysis.diagnostics] == []


def test_releases_layer_declaration_env_overlay_cluster(analysis):
    clusters = analysis.fleet.clusters
    replicas = {name: cluster.releases["podinfo"].values["values"]["replicaCount"] for name, cluster in clusters.items()}
    assert replicas == {"d1": 2, "p1": 3, "p2": 5}
    assert clusters["p1"].releases["podinfo"].values["values"]["release"] == "kept as a key"


def test_resources_are_placed_by_where_and_layered(analysis):
    clusters = analysis.fleet.clusters
    assert {name: plain(c.resources["quota"].values["spec"]) for name, c in clusters.items() if c.resources} == {
        "p1": {"hard": {"cpu": "8"}}, "p2": {"hard": {"cpu": "16"}}}
    assert analysis.fleet.resources["quota"].clusters == ("p1", "p2")
    assert analysis.fleet.namespaces["podinfo"].clusters == ("p1", "p2")


def test_the_chain_of_a_release_value_names_each_layer(analysis):
    chain = analysis.evaluation.chain("p2", "release podinfo", ("values", "replicaCount"))
    assert [(origin.layer, origin.source, value, effective) for origin, _, value, effective in chain] == [
        (Layer.APP, "release podinfo", 2, False),
        (Layer.ENV, "env prod", 3, False),
        (Layer.SELECTOR, "overlay big", 5, True),
    ]


def test_a_target_naming_no_release_suggests_one(tmp_path):
    (tmp_path / "main.gop").write_text(PROGRAM.replace("release podinfo { values.replicaCount = 3 }",
                                                       "release podinfx { values.replicaCount = 3 }"))
    errors = [(d.code, d.message, d.notes) for d in analyse([tmp_path]).diagnostics]
    assert errors == [("E0201", "unknown release `podinfx`", ("did you mean `podinfo`?",))]
