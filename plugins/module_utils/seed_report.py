# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a seed run reports: typed results, the progress observer interface, the seed's error."""
from __future__ import annotations

from typing import Any, Hashable

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError


class SeedError(AirgapError):
    """The seed cannot go on; the message names the tarball, image or registry and the problem."""


class NullProgress:
    """The progress observer interface, doing nothing (the module stays quiet; the CLI draws bars or lines).

    Events come from worker threads.  `key` identifies one blob transfer (opaque, hashable); sizes are bytes.
    """

    def targets_planned(self, count: int) -> None:
        """Every tarball is read: `count` targets (image x tag) will be checked or pushed."""

    def blob_start(self, key: Hashable, label: str, total: int | None) -> None:
        """A blob transfer begins (`total` bytes, None when unknown: a layer being recompressed)."""

    def blob_advance(self, key: Hashable, n: int) -> None:
        """`n` more bytes of a blob were sent."""

    def blob_done(self, key: Hashable, how: str, label: str) -> None:
        """A blob is settled: `how` is pushed, skipped, mounted or would push."""

    def target_done(self, result: TargetResult) -> None:
        """One target is settled."""


class TargetResult:
    """One target's outcome (the module's `images` entries). Byte counts are blob bytes; bytes_to_send (bytes that would
    be uploaded) is None except in check mode with the direct transport."""

    __slots__ = ("archive", "blobs_mounted", "blobs_pushed", "blobs_skipped", "bytes_sent", "bytes_to_send", "changed",
                 "config_digest", "digest", "manifests_pushed", "platforms", "source", "source_digest", "target", "would_push")

    def __init__(self, source: str, archive: str, target: str, config_digest: str | None) -> None:
        self.source = source
        self.archive = archive
        self.target = target
        self.config_digest = config_digest
        self.digest: str | None = None
        self.bytes_sent = 0
        self.blobs_pushed = 0
        self.blobs_mounted = 0
        self.blobs_skipped = 0
        self.changed = False
        self.bytes_to_send: int | None = None
        # Units pushed verbatim (an index, an artifact): the source digest, the index's platforms, manifests put, and
        # in check mode what would move ("manifest <digest>" / "blob <digest>").
        self.source_digest: str | None = None
        self.platforms: list[str] | None = None
        self.manifests_pushed: int | None = None
        self.would_push: list[str] | None = None

    def __repr__(self) -> str:
        return f"TargetResult({self.as_dict()!r})"

    def as_dict(self) -> dict[str, Any]:
        """The module's `images` entry: every field, bytes_to_send only when counted (check mode, direct transport)."""
        out = {key: getattr(self, key) for key in _RESULT_FIELDS}
        for key in ("bytes_to_send", "source_digest", "platforms", "manifests_pushed", "would_push"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


_RESULT_FIELDS = ("source", "archive", "target", "config_digest", "digest", "bytes_sent", "blobs_pushed", "blobs_mounted",
                  "blobs_skipped", "changed")


class SeedResult:
    """A whole run: one TargetResult per target, warnings (strings), diff ({before, after}: {target: digest or None}),
    check_mode (whether the counts are of what would be sent)."""

    def __init__(self, images: list[TargetResult], warnings: list[str], diff: dict[str, dict[str, str | None]],
                 check_mode: bool = False) -> None:
        self.images = images
        self.warnings = warnings
        self.diff = diff
        self.check_mode = check_mode

    @property
    def changed(self) -> bool:
        """Whether any target was (or would be) pushed."""
        return any(image.changed for image in self.images)

    @property
    def summary(self) -> str:
        """One line about the run; see summarize()."""
        return summarize(self.images, self.check_mode)

    def as_dict(self) -> dict[str, Any]:
        """{changed, images: [dict], warnings, diff, summary}, as the module returns it."""
        return {"changed": self.changed, "images": [image.as_dict() for image in self.images], "warnings": self.warnings,
                "diff": self.diff, "summary": self.summary}


def human(n: float) -> str:
    """A byte count for people: 512 B, 1.5 KiB, 3.2 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.1f} GiB"


def summarize(images: list[TargetResult], check_mode: bool = False) -> str:
    """One line about a run: images pushed (or that would be) and present, bytes sent (or to send), blobs."""
    pushed = sum(1 for i in images if i.changed)
    uploaded, mounted, present = (sum(getattr(i, key) for i in images) for key in ("blobs_pushed", "blobs_mounted", "blobs_skipped"))
    if check_mode:
        size = sum(i.bytes_to_send or 0 for i in images)
        return (f"{len(images)} images: {pushed} would be pushed, {len(images) - pushed} present; about {human(size)} to send "
                f"({uploaded} blobs to upload, {mounted} to mount, {present} present)")
    size = sum(i.bytes_sent for i in images)
    return (f"{len(images)} images: {pushed} pushed, {len(images) - pushed} present; {human(size)} sent "
            f"({uploaded} blobs uploaded, {mounted} mounted, {present} present)")
