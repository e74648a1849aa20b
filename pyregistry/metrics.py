"""Prometheus counters for the HTTP layer and storage, rendered in the text exposition format."""
from __future__ import annotations

import threading
from collections import defaultdict


class Metrics:
    """Request counts/durations by method and status, and bytes moved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = defaultdict(int)
        self.duration_sum = defaultdict(float)
        self.bytes_received = 0
        self.blob_uploads = 0
        self.manifest_pushes = 0

    def observe(self, method: str, status: int, seconds: float) -> None:
        """Count one request and add its duration."""
        with self._lock:
            self.requests[(method, status)] += 1
            self.duration_sum[method] += seconds

    def add(self, attr: str, value: int = 1) -> None:
        """Add `value` to the counter named `attr` (bytes_received, blob_uploads, manifest_pushes)."""
        with self._lock:
            setattr(self, attr, getattr(self, attr) + value)

    def render(self) -> str:
        """Every counter in the Prometheus text exposition format."""
        lines = [
            "# HELP pyregistry_http_requests_total HTTP requests served, by method and status code.",
            "# TYPE pyregistry_http_requests_total counter",
        ]
        with self._lock:
            for (method, status), count in sorted(self.requests.items()):
                lines.append(f'pyregistry_http_requests_total{{method="{method}",code="{status}"}} {count}')
            lines += [
                "# HELP pyregistry_http_request_duration_seconds_sum Time spent serving requests, by method.",
                "# TYPE pyregistry_http_request_duration_seconds_sum counter",
            ]
            for method, total in sorted(self.duration_sum.items()):
                lines.append(f'pyregistry_http_request_duration_seconds_sum{{method="{method}"}} {total:.6f}')
            for name, value, text in (
                ("pyregistry_storage_bytes_received_total", self.bytes_received, "Blob bytes received in uploads."),
                ("pyregistry_storage_blob_uploads_total", self.blob_uploads, "Blob uploads committed."),
                ("pyregistry_storage_manifest_pushes_total", self.manifest_pushes, "Manifests stored."),
            ):
                lines += [f"# HELP {name} {text}", f"# TYPE {name} counter", f"{name} {value}"]
        return "\n".join(lines) + "\n"
