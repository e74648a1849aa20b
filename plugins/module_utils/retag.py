# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deprecated import path: image references and the retag rule live in reference.py; this re-exports them for the
callers not yet moved (to be removed once none imports it)."""
from __future__ import annotations

from ansible_collections.airgap.registry.plugins.module_utils.reference import (  # noqa: F401 - re-exports
    HUB_NAMES,
    ImageRef,
    RetagError,
    check_registry,
    is_registry_part,
    normalize_hub,
    parse_ref,
    retag,
)
