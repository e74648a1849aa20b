"""Every key of Distribution's configuration reference (2.8 and 3.x), and what pyregistry does with it: honours it,
accepts it because it can have no effect here (a note is logged at start), or refuses to start, naming the key.
Keys outside the reference are refused too (a typo must not pass for a setting). Errors name keys, never values.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyregistry.errors import UnsupportedKey

Rule = tuple[str, Any]  # (what: "use", "inert", "refuse" or "only"; its argument)
USE: Rule = ("use", None)


def inert(reason: str) -> Rule:
    """Accepted: the key can change nothing pyregistry does (`reason` says why; logged at start)."""
    return ("inert", reason)


def refuse(reason: str) -> Rule:
    """Refused unless empty (null, {}, [], '', false): pyregistry cannot do what it asks."""
    return ("refuse", reason)


def only(values: Iterable[object], reason: str) -> Rule:
    """Accepted with one of `values` (compared as lower-case text), refused with any other."""
    return ("only", (frozenset(str(v).lower() for v in values), reason))


LOG_LEVELS = ("panic", "fatal", "error", "warn", "warning", "info", "debug", "trace", "")  # logrus's, as Distribution
FILESYSTEM_ONLY = "only the filesystem storage driver exists in pyregistry"
NO_CACHE = "pyregistry keeps no blob descriptor cache; every answer reads the storage"

RULES = {
    "version": only(["0.1"], "Distribution's configuration version is 0.1"),
    "loglevel": only(LOG_LEVELS, "not a log level"),
    "log.level": only(LOG_LEVELS, "not a log level"),
    "log.formatter": only(["text"], "pyregistry writes text logs only"),
    "log.fields": USE,
    "log.hooks": refuse("log hooks (mail on error) are not supported"),
    "log.reportcaller": only(["false"], "pyregistry does not report the caller in log lines"),
    "log.accesslog.disabled": USE,
    "storage.filesystem.rootdirectory": USE,
    "storage.filesystem.maxthreads": inert("pyregistry bounds its blocking file operations with its own thread pool"),
    "storage.delete.enabled": USE,
    "storage.redirect.disable": inert("the filesystem driver never redirects"),
    "storage.cache": inert(NO_CACHE),
    "storage.tag.concurrencylimit": inert("pyregistry reads tags without a concurrency setting"),
    "storage.maintenance.uploadpurging.enabled": USE,
    "storage.maintenance.uploadpurging.age": USE,
    "storage.maintenance.uploadpurging.interval": USE,
    "storage.maintenance.uploadpurging.dryrun": USE,
    "storage.maintenance.readonly.enabled": USE,
    "auth.htpasswd.realm": USE,
    "auth.htpasswd.path": USE,
    "auth.token": refuse("token authentication is not supported; use auth.htpasswd"),
    "auth.silly": refuse("silly authentication is not supported; use auth.htpasswd"),
    "auth.none": refuse("use no auth section for no authentication"),
    "middleware": refuse("storage, registry and repository middleware (CloudFront, redirects) are not supported"),
    "reporting": refuse("bugsnag and newrelic reporting are not supported"),
    "http.addr": USE,
    "http.net": only(["tcp", ""], "pyregistry listens on TCP only"),
    "http.host": USE,
    "http.prefix": USE,
    "http.secret": inert("pyregistry keeps upload state on disk and signs nothing with it"),
    "http.relativeurls": USE,
    "http.draintimeout": USE,
    "http.tls.certificate": USE,
    "http.tls.key": USE,
    "http.tls.clientcas": USE,
    "http.tls.clientauth": only(["require-and-verify-client-cert", "verify-client-cert-if-given", ""],
                                "pyregistry verifies client certificates (required, or if given) only"),
    "http.tls.minimumtls": USE,
    "http.tls.ciphersuites": refuse("cipher suites are not configurable; TLS 1.2+ with OpenSSL's defaults is used"),
    "http.tls.letsencrypt": refuse("Let's Encrypt certificates are not supported; give http.tls.certificate and key"),
    "http.headers": USE,
    "http.debug": refuse("the debug server is not supported; /metrics and /debug/health are served on http.addr"),
    "http.http2.disabled": inert("pyregistry speaks HTTP/1.1 only"),
    "http.http2.idletimeout": inert("pyregistry speaks HTTP/1.1 only"),
    "http.h2c.enabled": only(["false"], "pyregistry speaks HTTP/1.1 only"),
    "notifications.events.includereferences": inert("no notification endpoint is ever called"),
    "notifications.endpoints": USE,  # accepted only when every endpoint is disabled: see check_endpoints
    "redis": inert(NO_CACHE + " (Redis serves only that cache)"),
    "health.storagedriver": inert("storage errors surface on each request; /debug/health answers {} while serving"),
    "health.file": refuse("file health checks are not supported"),
    "health.http": refuse("HTTP health checks are not supported"),
    "health.tcp": refuse("TCP health checks are not supported"),
    "catalog.maxentries": refuse("the catalog page size is not configurable (100 by default, n= up to any size)"),
    "tags.maxtags": refuse("the tags/list page size is not configurable"),
    "proxy": refuse("pull-through cache (proxy) mode is not supported"),
    "compatibility.schema1.enabled": only(["false"], "schema 1 manifests are refused, never served"),
    "compatibility.schema1.signingkeyfile": inert("schema 1 manifests are never signed or served"),
    "validation.enabled": only(["true"], "manifests are always validated"),
    "validation.disabled": only(["false"], "manifests are always validated"),
    "validation.manifests.urls": refuse("manifest URL rules are not supported"),
    "validation.manifests.indexes.platforms": only(["all", "none", "list", ""], "must be all, none or list"),
    "validation.manifests.indexes.platformlist": USE,
    "policy.repository.classes": refuse("repository classes are not supported"),
    "pyregistry.workers": USE,
    "pyregistry.headertimeout": USE,
    "pyregistry.bodytimeout": USE,
}

SECTIONS = {path.rsplit(".", i)[0] for path in RULES for i in range(1, path.count(".") + 1)}
STORAGE_SPECIAL = {"filesystem", "delete", "redirect", "cache", "tag", "maintenance"}
TYPED_SECTIONS = {"storage": "filesystem", "auth": "htpasswd"}  # REGISTRY_STORAGE=filesystem names the section's kind


def empty(value: Any) -> bool:
    """True for what a refused key may hold: null, false, '', {} or []."""
    return value is None or value is False or value in ("", {}, [])


def rule_for(keys: list[str]) -> Rule | None:
    """The rule of the dotted path `keys` (a list), or of the closest ancestor that has one; None for a section or
    an unknown key."""
    for end in range(len(keys), 0, -1):
        path = ".".join(keys[:end])
        if path in RULES:
            return RULES[path]
    return None


def known(keys: list[str]) -> bool:
    """True when `keys` names a key or section of the reference (or something inside a free map or driver)."""
    if len(keys) >= 2 and keys[0] == "storage" and keys[1] not in STORAGE_SPECIAL:
        return True  # another storage driver: refused by check(), not ignored
    return rule_for(keys) is not None or ".".join(keys) in SECTIONS


def check_endpoints(endpoints: Any) -> str | None:
    """Notification endpoints are accepted only when none is enabled (pyregistry sends no events)."""
    if not isinstance(endpoints, list):
        return "must be a list"
    for index, endpoint in enumerate(endpoints):
        if not (isinstance(endpoint, dict) and endpoint.get("disabled") is True):
            return f"endpoint {index} is enabled, and pyregistry sends no notifications"
    return None


def check(raw: dict) -> list[tuple[str, str]]:
    """Walk the config mapping: returns [(key, reason)] for accepted keys with no effect; raises UnsupportedKey naming the
    first key pyregistry cannot honour (refused, unknown, or a section that is not a mapping)."""
    notes = []
    walk(raw, [], notes)
    return notes


def walk(node: dict, keys: list[str], notes: list[tuple[str, str]]) -> None:
    """Check every key under `node` (at dotted path `keys`), appending (key, reason) of inert ones to `notes`; raises
    UnsupportedKey for another storage driver, a key outside the reference, a section that is not a mapping."""
    for key, value in node.items():
        path = [*keys, str(key)]  # keys match exactly, as in Distribution: `HTTP:` is not `http:`
        dotted = ".".join(path)
        if path[0] == "storage" and len(path) == 2 and path[1] not in STORAGE_SPECIAL:
            raise UnsupportedKey(f"{dotted}: {FILESYSTEM_ONLY}")
        rule = RULES.get(dotted)
        if rule is None:
            if dotted not in SECTIONS:
                raise UnsupportedKey(f"{dotted}: not a key of Distribution's configuration reference (or of pyregistry's)")
            if value is None:
                continue
            if not isinstance(value, dict):
                raise UnsupportedKey(f"{dotted}: must be a mapping")
            walk(value, path, notes)
            continue
        apply_rule(dotted, rule, value, notes)


def apply_rule(dotted: str, rule: Rule, value: Any, notes: list[tuple[str, str]]) -> None:
    """Apply one key's rule to its `value`: note it (inert) or raise UnsupportedKey (refused, or not the only value)."""
    kind, arg = rule
    if dotted == "notifications.endpoints":
        problem = check_endpoints(value or [])
        if problem:
            raise UnsupportedKey(f"{dotted}: {problem}")
    elif kind == "inert":
        notes.append((dotted, arg))
    elif kind == "refuse" and not empty(value):
        raise UnsupportedKey(f"{dotted}: {arg}")
    elif kind == "only":
        allowed, reason = arg
        text = "" if value is None else str(value).lower()
        if text not in allowed:
            raise UnsupportedKey(f"{dotted}: {reason}")
