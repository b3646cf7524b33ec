"""E1132 (issue 13): what `gopc check` refuses is what the API server refuses of the rendered pod.
The real `helm template` of the app's chart shows its config volume mounted at /etc/<app> in the
app's container beside the user's mount; two mounts at one path are refused by the API server's
pod validation. A mount under the config path is accepted (the kubelet makes nested mount points in
configMap volumes) and so is not reported.
"""

from __future__ import annotations

import realtools as rt
import helm_fixtures as fx
from gop.compiler.session import analyse

FLEET = """\
labels { environment: "dev" }
env dev where environment == "dev" {}
cluster dev-1 { labels { environment = "dev" } }
source flux-system { url = "https://github.com/acme/fleet" }
"""


def _app(name: str, mount: str) -> str:
    return f"""app {name} {{
  image {{ repository = "ghcr.io/acme/{name}", tag = "1.0.0" }}
  config {{ "a.yaml" = "x: 1" }}
  volumes {{ creds {{ secret = "s" }} }}
  mounts {{ "{mount}" {{ volume = "creds" }} }}
}}
"""


def test_the_check_refuses_the_mounts_the_rendered_pod_cannot_have(tmp_path):
    mounts = {"same": "/etc/same", "under": "/etc/under/creds", "beside": "/etc/beside-creds", "deep": "/etc/deeper"}
    program = tmp_path / "program"
    program.mkdir()
    (program / "fleet.gop").write_text(FLEET)
    (program / "apps.gop").write_text("".join(_app(name, path) for name, path in mounts.items()))
    analysis = analyse([str(program)])
    assert {diag.code for diag in analysis.diagnostics} == {"E1132"}
    reported = {name for name in mounts for diag in analysis.diagnostics if f"app `{name}`" in diag.message}
    impossible = set()
    for name in mounts:
        (workload,) = [doc for doc in rt.helm_template(fx.write_chart(analysis.evaluation.fleet.apps[name], tmp_path),
                                                       release=name, namespace="ns") if doc["kind"] == "Deployment"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        paths = [m["mountPath"] for m in container["volumeMounts"]]
        if len(paths) != len(set(paths)):
            impossible.add(name)
    assert reported == impossible == {"same"}
