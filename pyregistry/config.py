"""Distribution's config.yml, with `REGISTRY_*` environment overrides, reduced to what pyregistry serves.

An environment variable `REGISTRY_A_B_C=value` sets the config path a.b.c (keys lower-cased), as registry:2 does; one
that names no key of the reference is ignored with a warning, as Distribution does (Kubernetes sets REGISTRY_PORT for a
service named registry). Every key is honoured, accepted with a note when it can have no effect here, or refused at
start with an error naming it (pyregistry.configkeys).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import yaml

from pyregistry.configkeys import TYPED_SECTIONS, check, known

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ConfigError(ValueError):
    """The configuration cannot be used."""


def parse_duration(value):
    """A Go duration ('168h', '1h30m', '500ms') or a number of seconds -> seconds (float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text or DURATION_RE.sub("", text):
        raise ConfigError(f"invalid duration: {value!r}")
    return sum(float(num) * DURATION_UNITS[unit] for num, unit in DURATION_RE.findall(text))


def _env_value(text):
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    return text


def apply_env(raw, environ):
    """Overlay `REGISTRY_*` variables on the raw config mapping (in place); returns the names of the variables ignored
    because they name no configuration key. ConfigError when one names a storage driver or auth kind pyregistry lacks."""
    ignored = []
    for name in sorted(environ):
        if not name.startswith("REGISTRY_") or name == "REGISTRY_":
            continue
        keys = [k.lower() for k in name[len("REGISTRY_"):].split("_") if k]
        if not known(keys):
            ignored.append(name)
            continue
        if len(keys) == 1 and keys[0] in TYPED_SECTIONS:
            if str(environ[name]).strip().lower() != TYPED_SECTIONS[keys[0]]:
                raise ConfigError(f"{name}: pyregistry supports {keys[0]} {TYPED_SECTIONS[keys[0]]} only")
            continue
        node = raw
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if isinstance(node.get(keys[-1]), dict):
            continue  # e.g. REGISTRY_STORAGE_MAINTENANCE=x: the section itself stays
        node[keys[-1]] = _env_value(environ[name])
    return ignored


def _get(raw, dotted, default=None):
    node = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node or node[key] is None:
            return default
        node = node[key]
    return node


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def parse_prefix(value):
    """http.prefix ('/registry/', 'registry', '/') -> '/registry' or '' (none): the API is served under PREFIX/v2/."""
    text = str(value or "").strip().strip("/")
    if any(c in text for c in "?#%{}") or "//" in text:
        raise ConfigError("http.prefix must be a plain path such as /registry/")
    return f"/{text}" if text else ""


def parse_addr(addr):
    """':5000' / '0.0.0.0:5000' / '[::1]:5000' -> (host, port); an empty host means every interface."""
    text = str(addr).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"http.addr must be HOST:PORT, got {addr!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass
class Config:
    """What pyregistry serves, resolved from config.yml + environment."""

    host: str = "0.0.0.0"
    port: int = 5000
    rootdirectory: str = "/var/lib/registry"
    tls_certificate: str | None = None
    tls_key: str | None = None
    tls_minimum: str = "tls1.2"
    tls_clientcas: list = field(default_factory=list)
    tls_clientauth: str = "require-and-verify-client-cert"
    headers: dict = field(default_factory=dict)
    relativeurls: bool = False
    public_host: str | None = None
    prefix: str = ""
    drain_timeout: float = 10.0
    log_level: str = "info"
    log_fields: dict = field(default_factory=dict)
    htpasswd_path: str | None = None
    htpasswd_realm: str = "basic-realm"
    delete_enabled: bool = False
    readonly: bool = False
    purge_enabled: bool = True
    purge_age: float = 168 * 3600.0
    purge_interval: float = 24 * 3600.0
    purge_dryrun: bool = False
    accesslog: bool = True
    workers: int = 1
    header_timeout: float = 60.0
    body_timeout: float = 60.0
    notes: list = field(default_factory=list)  # [("warning" or "info", text)], logged at start
    raw: dict = field(default_factory=dict)


def from_mapping(raw, environ=None):
    """Build a Config from a parsed config.yml mapping plus `environ` (defaults to os.environ)."""
    raw = dict(raw or {})
    ignored = apply_env(raw, os.environ if environ is None else environ)
    try:
        inert = check(raw)
    except ValueError as exc:
        raise ConfigError(f"unsupported configuration: {exc}") from None
    notes = [("warning", f"environment variable {name} names no configuration key: ignored") for name in ignored]
    notes += [("info", f"{key} has no effect in pyregistry: {reason}") for key, reason in inert]
    host, port = parse_addr(_get(raw, "http.addr", ":5000"))
    prefix = parse_prefix(_get(raw, "http.prefix", ""))
    public_host = str(_get(raw, "http.host")).rstrip("/") if _get(raw, "http.host") else None
    if public_host and prefix and public_host.endswith(prefix):
        public_host = public_host[: -len(prefix)]  # a host that already ends with the prefix: added once, in URLs
    clientcas = _get(raw, "http.tls.clientcas", []) or []
    headers = {}
    for name, values in (_get(raw, "http.headers", {}) or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values) if isinstance(values, list) else str(values)
    purge = _get(raw, "storage.maintenance.uploadpurging", {}) or {}
    if not isinstance(purge, dict):
        purge = {}
    cfg = Config(
        host=host,
        port=port,
        rootdirectory=str(_get(raw, "storage.filesystem.rootdirectory", "/var/lib/registry")),
        tls_certificate=_get(raw, "http.tls.certificate"),
        tls_key=_get(raw, "http.tls.key"),
        tls_minimum=str(_get(raw, "http.tls.minimumtls", "tls1.2")).lower(),
        tls_clientcas=[str(ca) for ca in (clientcas if isinstance(clientcas, list) else [clientcas])],
        tls_clientauth=str(_get(raw, "http.tls.clientauth", "") or "require-and-verify-client-cert").lower(),
        headers=headers,
        relativeurls=_bool(_get(raw, "http.relativeurls", False)),
        public_host=public_host,
        prefix=prefix,
        drain_timeout=parse_duration(_get(raw, "http.draintimeout", "10s")),
        log_level=str(_get(raw, "log.level", _get(raw, "loglevel", "info"))).lower(),
        log_fields=dict(_get(raw, "log.fields", {}) or {}),
        htpasswd_path=_get(raw, "auth.htpasswd.path"),
        htpasswd_realm=str(_get(raw, "auth.htpasswd.realm", "basic-realm")),
        delete_enabled=_bool(_get(raw, "storage.delete.enabled", False)),
        readonly=_bool(_get(raw, "storage.maintenance.readonly.enabled", False)),
        purge_enabled=_bool(purge.get("enabled", True)),
        purge_age=parse_duration(purge.get("age", "168h")),
        purge_interval=parse_duration(purge.get("interval", "24h")),
        purge_dryrun=_bool(purge.get("dryrun", False)),
        accesslog=not _bool(_get(raw, "log.accesslog.disabled", False)),
        workers=int(_get(raw, "pyregistry.workers", 1)),
        header_timeout=parse_duration(_get(raw, "pyregistry.headertimeout", "60s")),
        body_timeout=parse_duration(_get(raw, "pyregistry.bodytimeout", "60s")),
        notes=notes,
        raw=raw,
    )
    if bool(cfg.tls_certificate) != bool(cfg.tls_key):
        raise ConfigError("http.tls needs both certificate and key")
    if cfg.tls_minimum not in ("tls1.2", "tls1.3"):
        raise ConfigError(f"http.tls.minimumtls must be tls1.2 or tls1.3, got {cfg.tls_minimum!r}")
    if cfg.tls_clientcas and not cfg.tls_certificate:
        raise ConfigError("http.tls.clientcas needs http.tls.certificate and key")
    if cfg.workers < 1:
        raise ConfigError("pyregistry.workers must be >= 1")
    for key, value in (("pyregistry.headertimeout", cfg.header_timeout), ("pyregistry.bodytimeout", cfg.body_timeout)):
        if value <= 0:
            raise ConfigError(f"{key} must be a positive duration")
    return cfg


def load(path, environ=None):
    """Read config.yml at `path` (may be None: defaults + environment only)."""
    raw = {}
    if path:
        try:
            with open(path) as fh:
                raw = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a mapping")
    return from_mapping(raw, environ)
