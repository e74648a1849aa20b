"""Distribution's config.yml with `REGISTRY_*` environment overrides, resolved into typed sections (Config: http with
its tls, storage with its upload purging, auth, log, and pyregistry's own settings).

Keys match exactly as in Distribution (`HTTP:` is no `http:`). An environment variable `REGISTRY_A_B_C=value` sets the
config path a.b.c (the variable's words lower-cased), as registry:2 does; one that names no key of the reference is
ignored with a warning, as Distribution does (Kubernetes sets REGISTRY_PORT for a service named registry). No key is
silently ignored (docs/pyregistry.md): each is honoured, accepted with a note logged at start when it can have no
effect here, or refused at start with a ConfigError naming it (pyregistry.configkeys).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from pyregistry.configkeys import TYPED_SECTIONS, check, known
from pyregistry.errors import ConfigError, UnsupportedKey
from pyregistry.manifests import IndexRule

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """A Go duration ('168h', '1h30m', '500ms') or a number of seconds -> seconds (float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text or DURATION_RE.sub("", text):
        raise ConfigError(f"invalid duration: {value!r}")
    return sum(float(num) * DURATION_UNITS[unit] for num, unit in DURATION_RE.findall(text))


def _env_value(text: str) -> bool | int | str:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    return text


def apply_env(raw: dict, environ: Mapping[str, str]) -> list[str]:
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


def _get(raw: dict, dotted: str, default: Any = None) -> Any:
    node = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node or node[key] is None:
            return default
        node = node[key]
    return node


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def parse_prefix(value: Any) -> str:
    """http.prefix ('/registry/', 'registry', '/') -> '/registry' or '' (none): the API is served under PREFIX/v2/."""
    text = str(value or "").strip().strip("/")
    if any(c in text for c in "?#%{}") or "//" in text:
        raise ConfigError("http.prefix must be a plain path such as /registry/")
    return f"/{text}" if text else ""


def parse_addr(addr: Any) -> tuple[str, int]:
    """':5000' / '0.0.0.0:5000' / '[::1]:5000' -> (host, port); an empty host means every interface."""
    text = str(addr).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"http.addr must be HOST:PORT, got {addr!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass
class TlsConfig:
    """http.tls: certificate and key files (None: plain HTTP), minimum version, client CAs and how they are required."""

    certificate: str | None = None
    key: str | None = None
    minimum: str = "tls1.2"
    clientcas: list[str] = field(default_factory=list)
    clientauth: str = "require-and-verify-client-cert"


@dataclass
class HttpConfig:
    """http: where to listen, the API's prefix ('' or '/registry'), how Location URLs are built, extra headers, drain."""

    host: str = "0.0.0.0"
    port: int = 5000
    prefix: str = ""
    public_host: str | None = None
    relativeurls: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    drain_timeout: float = 10.0
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass
class PurgeConfig:
    """storage.maintenance.uploadpurging: upload sessions older than `age` seconds removed every `interval` seconds."""

    enabled: bool = True
    age: float = 168 * 3600.0
    interval: float = 24 * 3600.0
    dryrun: bool = False


@dataclass
class StorageConfig:
    """storage: the filesystem root, deletes, read-only mode and upload purging."""

    rootdirectory: str = "/var/lib/registry"
    delete_enabled: bool = False
    readonly: bool = False
    purge: PurgeConfig = field(default_factory=PurgeConfig)


@dataclass
class AuthConfig:
    """auth.htpasswd: the file (None: no authentication) and the realm of the challenge."""

    htpasswd_path: str | None = None
    htpasswd_realm: str = "basic-realm"


@dataclass
class LogConfig:
    """log: level (logrus's names), fields appended to every line, and whether requests are logged."""

    level: str = "info"
    fields: dict = field(default_factory=dict)
    accesslog: bool = True


@dataclass
class ServerConfig:
    """pyregistry: worker processes and the read timeouts of request heads and bodies (seconds)."""

    workers: int = 1
    header_timeout: float = 60.0
    body_timeout: float = 60.0


@dataclass
class ValidationConfig:
    """validation.manifests: `indexes`, the IndexRule of validation.manifests.indexes (platforms, platformlist)."""

    indexes: IndexRule = field(default_factory=IndexRule)


@dataclass
class Config:
    """What pyregistry serves, resolved from config.yml + environment, one typed section per part of config.yml."""

    http: HttpConfig = field(default_factory=HttpConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    log: LogConfig = field(default_factory=LogConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    notes: list[tuple[str, str]] = field(default_factory=list)  # [("warning" or "info", text)], logged at start


def _tls(raw: dict) -> TlsConfig:
    """http.tls -> TlsConfig; raises ConfigError for half a key pair, an unknown minimum, client CAs without TLS."""
    clientcas = _get(raw, "http.tls.clientcas", []) or []
    tls = TlsConfig(
        certificate=_get(raw, "http.tls.certificate"),
        key=_get(raw, "http.tls.key"),
        minimum=str(_get(raw, "http.tls.minimumtls", "tls1.2")).lower(),
        clientcas=[str(ca) for ca in (clientcas if isinstance(clientcas, list) else [clientcas])],
        clientauth=str(_get(raw, "http.tls.clientauth", "") or "require-and-verify-client-cert").lower(),
    )
    if bool(tls.certificate) != bool(tls.key):
        raise ConfigError("http.tls needs both certificate and key")
    if tls.minimum not in ("tls1.2", "tls1.3"):
        raise ConfigError(f"http.tls.minimumtls must be tls1.2 or tls1.3, got {tls.minimum!r}")
    if tls.clientcas and not tls.certificate:
        raise ConfigError("http.tls.clientcas needs http.tls.certificate and key")
    return tls


def _http(raw: dict) -> HttpConfig:
    """http -> HttpConfig; raises ConfigError for a bad addr, prefix, draintimeout or tls section."""
    host, port = parse_addr(_get(raw, "http.addr", ":5000"))
    prefix = parse_prefix(_get(raw, "http.prefix", ""))
    public_host = str(_get(raw, "http.host")).rstrip("/") if _get(raw, "http.host") else None
    if public_host and prefix and public_host.endswith(prefix):
        public_host = public_host[: -len(prefix)]  # a host that already ends with the prefix: added once, in URLs
    headers = {}
    for name, values in (_get(raw, "http.headers", {}) or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values) if isinstance(values, list) else str(values)
    return HttpConfig(host=host, port=port, prefix=prefix, public_host=public_host,
                      relativeurls=_bool(_get(raw, "http.relativeurls", False)), headers=headers,
                      drain_timeout=parse_duration(_get(raw, "http.draintimeout", "10s")), tls=_tls(raw))


def _storage(raw: dict) -> StorageConfig:
    """storage -> StorageConfig; raises ConfigError for a bad purge duration."""
    purge = _get(raw, "storage.maintenance.uploadpurging", {}) or {}
    if not isinstance(purge, dict):
        purge = {}
    return StorageConfig(
        rootdirectory=str(_get(raw, "storage.filesystem.rootdirectory", "/var/lib/registry")),
        delete_enabled=_bool(_get(raw, "storage.delete.enabled", False)),
        readonly=_bool(_get(raw, "storage.maintenance.readonly.enabled", False)),
        purge=PurgeConfig(enabled=_bool(purge.get("enabled", True)), age=parse_duration(purge.get("age", "168h")),
                          interval=parse_duration(purge.get("interval", "24h")), dryrun=_bool(purge.get("dryrun", False))),
    )


def _server(raw: dict) -> ServerConfig:
    """pyregistry -> ServerConfig; raises ConfigError for workers < 1 or a timeout that is not positive."""
    server = ServerConfig(workers=int(_get(raw, "pyregistry.workers", 1)),
                          header_timeout=parse_duration(_get(raw, "pyregistry.headertimeout", "60s")),
                          body_timeout=parse_duration(_get(raw, "pyregistry.bodytimeout", "60s")))
    if server.workers < 1:
        raise ConfigError("pyregistry.workers must be >= 1")
    for key, value in (("pyregistry.headertimeout", server.header_timeout), ("pyregistry.bodytimeout", server.body_timeout)):
        if value <= 0:
            raise ConfigError(f"{key} must be a positive duration")
    return server


def _validation(raw: dict) -> ValidationConfig:
    """validation.manifests.indexes -> ValidationConfig (Distribution 3's keys; `platforms` compared case-blind, as
    Distribution does); raises ConfigError for a platformlist entry without os and architecture, or `list` without a
    platformlist (which would check nothing; say `none` for that)."""
    platforms = str(_get(raw, "validation.manifests.indexes.platforms", "all") or "all").lower()
    entries = _get(raw, "validation.manifests.indexes.platformlist", []) or []
    if not isinstance(entries, list):
        raise ConfigError("validation.manifests.indexes.platformlist must be a list of {os, architecture}")
    platformlist = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("os"), str) and isinstance(entry.get("architecture"), str)):
            raise ConfigError(f"validation.manifests.indexes.platformlist[{i}] needs os and architecture")
        platformlist.append((entry["os"], entry["architecture"]))
    if platforms == "list" and not platformlist:
        raise ConfigError("validation.manifests.indexes.platforms is list but platformlist names no platform "
                          "(use none to accept every sparse index)")
    return ValidationConfig(indexes=IndexRule(platforms, tuple(platformlist)))


def from_mapping(raw: dict | None, environ: Mapping[str, str] | None = None) -> Config:
    """Build a Config from a parsed config.yml mapping plus `environ` (defaults to os.environ); raises ConfigError for a
    refused key (configkeys) or a value pyregistry cannot use."""
    raw = dict(raw or {})
    ignored = apply_env(raw, os.environ if environ is None else environ)
    try:
        inert = check(raw)
    except UnsupportedKey as exc:
        raise ConfigError(f"unsupported configuration: {exc}") from None
    notes = [("warning", f"environment variable {name} names no configuration key: ignored") for name in ignored]
    notes += [("info", f"{key} has no effect in pyregistry: {reason}") for key, reason in inert]
    auth = AuthConfig(htpasswd_path=_get(raw, "auth.htpasswd.path"), htpasswd_realm=str(_get(raw, "auth.htpasswd.realm", "basic-realm")))
    log = LogConfig(level=str(_get(raw, "log.level", _get(raw, "loglevel", "info"))).lower(),
                    fields=dict(_get(raw, "log.fields", {}) or {}),
                    accesslog=not _bool(_get(raw, "log.accesslog.disabled", False)))
    return Config(http=_http(raw), storage=_storage(raw), auth=auth, log=log, server=_server(raw),
                  validation=_validation(raw), notes=notes)


def load(path: str | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read config.yml at `path` (None: defaults + environment only) into a Config; raises ConfigError."""
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
