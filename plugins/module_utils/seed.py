# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed a registry from image tarballs: the entry point of the image_seed module and the airgap-seed CLI.

A run goes through four parts, each in its own module:

- seed_options: the options, defined once (the module's argument_spec and the CLI's flags come from there);
- seed_plan: what to push (read the tarballs, name the targets, record what the registry has, list the blobs);
- seed_transfer: ask the registry (`survey`) and push (`DirectTransport`); seed_engine: `EngineTransport`, the
  same interface through the Docker engine;
- seed_report: typed results (TargetResult, SeedResult), the progress observer (NullProgress) and SeedError.
"""
from __future__ import annotations

import threading
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.platform_policy import PlatformPolicyError, narrow_plan, sparse_hint
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError, client_from_params
from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, check_registry
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import DEFAULTS, OptionError, check
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import SeedPlan, Target, expand_sources, load_plan
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, SeedError, SeedResult, human, summarize
from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import DirectTransport, Transport, survey
from ansible_collections.airgap.registry.plugins.module_utils.seed_verbatim import check_engine

# How errors name the options (the module's; the CLI passes its flags, see registry_api.MODULE_OPTION_NAMES).
SEED_OPTION_NAMES = {"src": "src"}
__all__ = ["DEFAULTS", "NullProgress", "SeedError", "SeedResult", "Seeder", "expand_sources", "human", "seed", "summarize"]


class Seeder:
    """One seed run.  `opts`: the module's options (see seed_options.OPTIONS) plus check_mode and option_names (how
    errors name the options: {option: name}); `progress`: a NullProgress subclass that observes the run.

    SeedError at construction for a value the seed refuses (layers, transport, parallel, chunk_size, registry).
    """

    def __init__(self, opts: dict[str, Any], progress: NullProgress | None = None) -> None:
        self.opts = {**DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
        try:
            check(self.opts)
            check_registry(self.opts["registry"])
        except (OptionError, RetagError) as exc:
            raise SeedError(str(exc)) from None
        self.names = {**SEED_OPTION_NAMES, **(self.opts["option_names"] or {})}
        self.progress = progress or NullProgress()
        self.client: RegistryClient | None = None
        self.plan: SeedPlan | None = None
        self.abort = threading.Event()
        self.sparse: list[str] = []  # targets pushed as sparse indexes (platform_policy sparse)

    @property
    def targets(self) -> list[Target]:
        """The targets (image x tag) of the run, once loaded; else []."""
        return self.plan.targets if self.plan else []

    def load(self) -> list[Target]:
        """Read every tarball and name every target (once per run; the observer hears how many); SeedError naming the
        tarball when one cannot be read or two images would get one name."""
        if self.plan is None:
            self.plan = load_plan(self.opts, self.names["src"])
            try:
                self.sparse = narrow_plan(self.plan, self.opts["platforms"] or [], self.opts["platform_policy"])
            except PlatformPolicyError as exc:
                raise SeedError(str(exc)) from None
            self.progress.targets_planned(len(self.plan.targets) + len(self.plan.verbatim))
        return self.plan.targets

    def connect(self) -> RegistryClient:
        """A client of the registry that answered /v2/; RegistryError when it does not."""
        self.client = client_from_params(self.opts["registry"], self.opts, retries=self.opts["retries"])
        self.client.ping()
        return self.client

    def transport(self) -> Transport:
        """The Transport of opts["transport"]: DirectTransport, or EngineTransport (imported here: the docker SDK)."""
        if self.opts["transport"] == "engine":
            from ansible_collections.airgap.registry.plugins.module_utils.seed_engine import EngineTransport  # docker SDK, only here
            return EngineTransport(self.client, self.opts, self.progress, self.abort)
        return DirectTransport(self.client, self.opts, self.progress, self.abort)

    def seed(self) -> SeedResult:
        """Load, ask the registry what it has, push what it lacks; SeedError naming what failed."""
        self.load()
        if self.opts["transport"] == "engine":
            check_engine(self.plan)
        if self.targets or self.plan.verbatim or self.opts["transport"] == "engine":
            try:
                self.connect()
                survey(self.client, self.plan, int(self.opts["parallel"]), self.abort)
            except RegistryError as exc:
                raise SeedError(str(exc)) from None
            try:
                self.transport().transfer(self.plan)
            except SeedError as exc:
                raise SeedError(sparse_hint(str(exc), self.sparse)) from None
        return SeedResult([t.result for t in [*self.targets, *self.plan.verbatim]], self.plan.warnings, self.plan.diff(), self.opts["check_mode"])

    def run(self) -> dict[str, Any]:
        """Seed; {changed, images: [dict per target], warnings: [str], diff: {before, after}, summary: str}."""
        return self.seed().as_dict()


def seed(opts: dict[str, Any], progress: NullProgress | None = None) -> dict[str, Any]:
    """Run one seed with `opts` (the module's options plus check_mode); the result dict of Seeder.run()."""
    return Seeder(opts, progress).run()
