"""Ports: what a Service, a probe and an ingress need of an app's declared ports.

Input: one `versions.Version` (an app's distinct effective values), the program's sources (for
the fixes' text), a `Findings` and a `PortProblems`. Output: two ports with one number
(DUPLICATE_PORT_NUMBER, into the `Findings`); a probe or an ingress naming a port the app does not
declare, or an ingress with no port to route to (PORT_NOT_DECLARED); an ingress that cannot tell
which of several ports to route to (INGRESS_PORT_AMBIGUOUS, with one fix per port).

Invariants: each problem once per line that caused it, however many versions share it.
"""

from __future__ import annotations

import re

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, Fix, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version, later, located
from gop.compiler.language import PROBE_FIELDS, AppField


class PortProblems:
    """Problems of the ports of every version, each once."""

    def __init__(self, sources: dict) -> None:
        self.sources = sources  # file -> source text (`Program.sources`)
        self.found: dict[tuple, Diagnostic] = {}  # by (span, message) or, for an ambiguous ingress port, (span, app)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self.found.values())

    def keep(self, key: tuple, found: Diagnostic) -> None:
        """A problem found by another `PortProblems` (`key` in its `found`), unless one of `key` is here already."""
        self.found.setdefault(key, found)

    def check_version(self, version: Version, findings: Findings) -> None:
        _duplicate_numbers(version, findings)
        values, origins, name = version.values, version.origins, version.app
        ports = values.get(AppField.PORTS) or {}
        for probe in PROBE_FIELDS:
            if probe in values and values[probe][AppField.PORT] not in ports:
                port = values[probe][AppField.PORT]
                self._error(located(origins, (probe, AppField.PORT), (probe,)), codes.PORT_NOT_DECLARED,
                            f"the {probe} probe of app `{name}` checks port `{port}`, which the app does not declare",
                            f"declared ports: {', '.join(ports) or 'none'}; add `ports {{ {port} = ... }}` or set `{probe}.port`")
        if AppField.INGRESS in values:
            self._ingress_port(version)

    def _ingress_port(self, version: Version) -> None:
        """The ingress routes to `ingress.port`, else to the port named "http", else to the only port."""
        values, origins, name = version.values, version.origins, version.app
        ports = values.get(AppField.PORTS) or {}
        chosen = values[AppField.INGRESS].get(AppField.PORT)
        if not ports:
            self._error(located(origins, (AppField.INGRESS,)), codes.PORT_NOT_DECLARED,
                        f"app `{name}` has an ingress but no port for it to route to",
                        'add `ports { http = 8080 }` (the ingress routes to `ingress.port`, else to the port named "http")')
        elif chosen is not None and chosen not in ports:
            self._error(located(origins, (AppField.INGRESS, AppField.PORT), (AppField.INGRESS,)), codes.PORT_NOT_DECLARED,
                        f"the ingress of app `{name}` routes to port `{chosen}`, which the app does not declare",
                        f"declared ports: {', '.join(ports)}; add `ports {{ {chosen} = ... }}` or set `ingress.port`")
        elif chosen is None and "http" not in ports and len(ports) > 1:
            origin = located(origins, (AppField.INGRESS,))
            if origin is None or (origin.span, name) in self.found:
                return
            choices = sorted(ports)
            self.found[origin.span, name] = diagnostic(
                codes.INGRESS_PORT_AMBIGUOUS, origin.span,
                f"app `{name}` has several ports ({', '.join(choices)}) and none is named `http`: "
                "which one does the ingress route to?",
                notes=(f'set `ingress.port`, e.g. `port = "{choices[0]}"` in the ingress block',),
                fixes=self._ingress_port_fixes(origin.span, choices))

    def _ingress_port_fixes(self, span: Span, choices: list[str]) -> list[Fix]:
        """`port = "<name>"` inserted as the first statement of the `ingress { ... }` block at `span`,
        one fix per declared port (none when the ingress is not set by such a block)."""
        source = self.sources.get(span.file)
        text = source.text[span.start:span.end] if source is not None else ""
        block = re.match(r"ingress\s*\{([ \t]*\n?)([ \t]*)", text)
        if block is None:
            return []
        at = span.start + block.end()
        separator = "\n" + block.group(2) if block.group(1).endswith("\n") else ", "
        if text[block.end():].startswith("}"):
            separator = " "
        return [Fix(Span(span.file, at, at), f'port = "{port}"{separator}', f'route the ingress to port `{port}`')
                for port in choices]

    def _error(self, origin, code: str, message: str, note: str) -> None:
        if origin is None or (origin.span, message) in self.found:
            return
        self.found[origin.span, message] = diagnostic(code, origin.span, message, notes=(note,))


def _duplicate_numbers(version: Version, findings: Findings) -> None:
    ports = version.values.get(AppField.PORTS)
    if not ports or len(ports) < 2:
        return
    by_number: dict[int, str] = {}
    for name, number in ports.items():
        first = by_number.setdefault(number, name)
        if first != name:
            primary, other = later(version.origins.get((AppField.PORTS, first)), version.origins.get((AppField.PORTS, name)))
            findings.report(version, codes.DUPLICATE_PORT_NUMBER,
                            f"ports `{first}` and `{name}` of app `{version.app}` both use number {number}",
                            ("the API server rejects a Service with two ports of one number; give each port its own number",),
                            primary, other)
