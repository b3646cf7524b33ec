"""Delivery stages: which stage each object is applied in, and in which order the stages run.

Input: a `Fleet` (its `stages`: the declared stages, none for the implicit two).
Output:
- `stage_names(fleet)`: every stage, each after the stages it depends on (ties by name); without
  declared stages the implicit `infrastructure`, `apps`;
- `stage_of(fleet, kind, values, used_in)`: THE decision of which stage an object goes to, for
  apps, releases, resources and namespaces alike (the Flux lowering asks it for every object it
  places, the checks ask it to find objects with no stage);
- `stage_dependencies(fleet)`: each stage -> every stage it waits for, directly or not;
  `direct_dependencies(fleet, stage)`: those it names; `earliest_stage(fleet, stages)`.

Invariants: pure functions of the fleet; deterministic (sorted); they terminate on dependency
cycles (the checks report those, E0840; the lowering never sees a fleet with errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gop.compiler.fleet.model import Fleet

INFRASTRUCTURE = "infrastructure"
APPS = "apps"
IMPLICIT_STAGES = (INFRASTRUCTURE, APPS)  # `apps` depends on `infrastructure`
# The stage an object goes to when it names none: an app's, and everything else's.
DEFAULT_STAGES = {"app": APPS, "release": INFRASTRUCTURE, "resource": INFRASTRUCTURE, "namespace": INFRASTRUCTURE}


def stage_names(fleet: Fleet) -> tuple[str, ...]:
    """Every stage, each after those it depends on; among stages free to go, by name. Stages on
    a dependency cycle come last, by name."""
    if not fleet.stages:
        return IMPLICIT_STAGES
    waiting = {name: set(direct_dependencies(fleet, name)) & set(fleet.stages) for name in fleet.stages}
    order: list[str] = []
    while ready := sorted(name for name, needs in waiting.items() if not needs):
        for name in ready:
            order.append(name)
            del waiting[name]
        for needs in waiting.values():
            needs.difference_update(ready)
    return (*order, *sorted(waiting))


def direct_dependencies(fleet: Fleet, stage: str) -> tuple[str, ...]:
    """The stages `stage` names in its `dependsOn` (the implicit `apps`: `infrastructure`), in order."""
    if not fleet.stages:
        return (INFRASTRUCTURE,) if stage == APPS else ()
    # A program with errors may name an undeclared stage (reported where it is named): not followed.
    return tuple(str(ref) for ref in fleet.stages[stage].values["dependsOn"] if str(ref) in fleet.stages)


def stage_dependencies(fleet: Fleet) -> dict[str, frozenset[str]]:
    """Each stage -> every stage it waits for, directly or through others."""
    closure: dict[str, frozenset[str]] = {}
    for name in stage_names(fleet):
        reached: set[str] = set()
        todo = list(direct_dependencies(fleet, name))
        while todo:
            other = todo.pop()
            if other not in reached:
                reached.add(other)
                todo.extend(direct_dependencies(fleet, other))
        closure[name] = frozenset(reached)
    return closure


def earliest_stage(fleet: Fleet, stages: Iterable[str]) -> str:
    """The first of `stages` (at least one) in `stage_names` order."""
    order = stage_names(fleet)
    return min(stages, key=order.index)


def stage_of(fleet: Fleet, kind: str, values: Mapping[str, Any] | None, used_in: Iterable[str] = ()) -> str | None:
    """The stage an object is applied in on a cluster.

    `kind`: "app", "release", "resource" or "namespace"; `values`: the object's effective values
    on the cluster (an app names its stage in `delivery.stage`, the others in `stage`), or None for
    a namespace gopc creates for the objects in it, whose stages are `used_in`: that namespace
    goes to the earliest of them (`infrastructure` with the implicit stages, as it always did).
    An object naming no stage goes to its kind's default (`DEFAULT_STAGES`); None when stages are
    declared and that one is not (the checks report it, E0841)."""
    if values is None and fleet.stages:
        return earliest_stage(fleet, used_in) if used_in else None
    chosen = None if values is None else (values.get("delivery", {}) if kind == "app" else values).get("stage")
    if chosen is not None:
        return str(chosen)
    default = DEFAULT_STAGES[kind]
    return default if not fleet.stages or default in fleet.stages else None
