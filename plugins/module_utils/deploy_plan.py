# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deployment plan: the typed steps a deploy module will take, computed before anything is touched.

`deploy_container` and `deploy_service` first observe the engine and the files (reads only), compute a `Plan` from
what they saw, then apply its steps in order (not in check mode). The user-visible `actions` list is a report of the
plan's steps; code decides on step kinds, never on those strings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

# Step kinds (the `actions` text each reports is set on the step, as the two modules word them differently).
INIT_SWARM = "init_swarm"
LABEL_NODE = "label_node"
CREATE_STORAGE = "create_storage"
WRITE_CONFIG = "write_config"
REMOVE = "remove"
CREATE = "create"
START = "start"
RESTART = "restart"
STOP = "stop"
CREATE_SECRETS = "create_secrets"
APPLY_SERVICE = "apply_service"
WAIT = "wait"
REMOVE_SECRETS = "remove_secrets"


@dataclass(frozen=True)
class Step:
    """One thing to do. `action` is its line in the module's `actions` ("" for steps not reported, such as waiting)."""

    kind: str
    action: str = ""
    target: str = ""  # the file, directory or node the step acts on
    data: Optional[bytes] = None  # the bytes a WRITE_CONFIG step writes
    names: tuple = ()  # the secrets a secret step creates or removes
    spec: Mapping[str, Any] = field(default_factory=dict)  # settings: the desired container or service, node labels


@dataclass
class Plan:
    """The steps to take, in order, and what the module reports whether or not they are applied."""

    steps: List[Step] = field(default_factory=list)
    report: Dict[str, Any] = field(default_factory=dict)

    def add(self, kind: str, action: str = "", **details: Any) -> None:
        self.steps.append(Step(kind, action, **details))

    def has(self, kind: str) -> bool:
        return any(step.kind == kind for step in self.steps)

    def step(self, kind: str) -> Optional[Step]:
        return next((step for step in self.steps if step.kind == kind), None)

    @property
    def actions(self) -> List[str]:
        return [step.action for step in self.steps if step.action]

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def apply_steps(steps: List[Step], handlers: Mapping[str, Callable[[Step], None]], done: Optional[List[Step]] = None) -> None:
    """Apply `steps` in order with the handler of each kind; the steps that completed are appended to `done`."""
    for step in steps:
        handlers[step.kind](step)
        if done is not None:
            done.append(step)
