"""pyregistry: a pure-Python OCI Distribution registry, a drop-in for registry:2 (same config, same on-disk layout)."""

__version__ = "0.1.0"
