# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the errors this collection raises on purpose.

Every error class of plugins/module_utils derives from AirgapError, so that a caller (a module, the CLI) can catch
what the collection reports as a message for people with one `except AirgapError`, and let real bugs through.
"""
from __future__ import annotations


class AirgapError(Exception):
    """An error whose message is meant for the user: it names the file, option, registry or image at fault."""
