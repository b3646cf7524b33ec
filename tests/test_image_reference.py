"""`image.repository` follows the docker reference grammar (issue 13): the prelude's pattern agrees
with distribution/reference's on its own cases, and the chart's values.schema.json carries it, so
the real `helm template` (Go's regexp) refuses what `gopc check` refuses.
"""

from __future__ import annotations

import pytest

import helm_fixtures as fx
import realtools as rt
from gop.compiler.session import analyse

ACCEPTED = ["nginx", "ghcr.io/acme/api", "registry.local:5000/acme/api", "localhost/x", "a__b/c.d-e", "my--repo/x",
            "123.dkr.ecr.eu-west-1.amazonaws.com/team/app"]
REFUSED = ["https://ghcr.io/acme/api", "ghcr.io//api", "acme/Web", "a/-x", "a/x-", "ghcr.io/acme/api:1.0", "a/x___y",
           "/x", "x/", "ghcr.io/acme/api@sha256"]


@pytest.mark.parametrize("repository", ACCEPTED + REFUSED)
def test_check_follows_the_reference_grammar(tmp_path, repository):
    (tmp_path / "apps.gop").write_text(f'app api {{ image {{ repository = "{repository}", tag = "1.0.0" }} }}\n')
    (tmp_path / "fleet.gop").write_text('source flux-system { url = "https://github.com/acme/fleet" }\n')
    codes = {diag.code for diag in analyse([str(tmp_path)]).diagnostics}
    assert codes == (set() if repository in ACCEPTED else {"E0303"})


def test_helm_refuses_what_check_refuses(tmp_path):
    chart = fx.write_chart(fx.make_app("api", ports={"http": 8080}), tmp_path)
    for repository in ACCEPTED:
        rt.helm_template(chart, release="api", set_values={"image.repository": repository})
    for repository in REFUSED:
        with pytest.raises(rt.ToolError) as failure:
            rt.helm_template(chart, release="api", set_values={"image.repository": repository})
        assert "at '/image/repository'" in str(failure.value) and "does not match pattern" in str(failure.value)
