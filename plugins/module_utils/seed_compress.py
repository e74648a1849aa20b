# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deprecated import path: layer compression lives in compression.py; this re-exports it for the callers not yet
moved (to be removed once none imports it)."""
from __future__ import annotations

from ansible_collections.airgap.registry.plugins.module_utils.compression import (  # noqa: F401 - re-exports
    GZIP_CHUNK,
    CompressError,
    convert,
    gzip_reader,
    zstd_reader,
)
