"""The three config files of a library: defaults, loading with clear errors,
and the small amount of interpretation every phase shares."""

from __future__ import annotations

import copy
from typing import Any

from .. import records
from ..errors import ConfigError, InvalidRecord
from .layout import PREFERENCES_FILE, SERVICES_FILE, SYNC_STATE_FILE

DEFAULT_PREFERENCES: dict[str, Any] = {
    "default_visibility": "private",
    "auto_resolve": ["exact_duplicates", "quality_variants", "missing_metadata", "most_restrictive_visibility"],
    "blob_storage": {
        "primary": "local",
        "replicas": [],
        "min_copies": 1,
        "stores": {"local": {"type": "local", "path": "blobs"}},
    },
    "sync_preferences": {
        "download_originals": True,
        "max_parallel_downloads": 5,
        "max_parallel_uploads": 4,
        "incremental_sync_days": 30,
        "commit_batch_size": 500,
    },
}

DEFAULT_SYNC_STATE: dict[str, Any] = {"schema_version": 1, "services": {}}

#: the policies ``resolve --auto-resolve simple`` applies (when configured)
SIMPLE_POLICIES = ("exact_duplicates", "missing_metadata")


def default_config_files() -> dict[str, bytes]:
    return {
        SERVICES_FILE: records.dump_json({}),
        PREFERENCES_FILE: records.dump_json(DEFAULT_PREFERENCES),
        SYNC_STATE_FILE: records.dump_json(DEFAULT_SYNC_STATE),
    }


def parse_services(text: bytes, where: str) -> tuple[dict[str, dict], list[InvalidRecord]]:
    """Valid service entries, and one error per invalid entry (the others still work)."""
    data = records.parse_json(text, where)
    if not isinstance(data, dict):
        raise InvalidRecord(where, "must be a JSON object with one entry per service name")
    good: dict[str, dict] = {}
    bad: list[InvalidRecord] = []
    known: list[str] | None = None
    for name, entry in data.items():
        try:
            records.validate("services", {name: entry}, where)
            if known is None:
                from ..connectors.registry import known_types

                known = known_types()
            if entry["type"] not in known:
                raise InvalidRecord(where, f"unknown service type '{entry['type']}' (known: {', '.join(known)})",
                                    f"{name}.type")
        except InvalidRecord as e:
            bad.append(e)
            continue
        good[name] = entry
    return good, bad


def parse_preferences(text: bytes, where: str) -> dict:
    data = records.load_json("preferences", text, where)
    stores = (data.get("blob_storage") or {}).get("stores") or {}
    if stores:
        from ..stores.registry import known_types

        known = known_types()
        for name, entry in stores.items():
            if entry["type"] not in known:
                raise InvalidRecord(where, f"unknown store type '{entry['type']}' (known: {', '.join(known)})",
                                    f"blob_storage.stores.{name}.type")
    return normalise_preferences(data, where)


def normalise_preferences(data: dict, where: str = PREFERENCES_FILE) -> dict:
    """Fill defaults and accept the design document's shorthand (``local_path``)."""
    prefs = copy.deepcopy(data)
    blob = prefs["blob_storage"]
    stores = blob.setdefault("stores", {})
    if not stores and blob.get("local_path"):
        stores["local"] = {"type": "local", "path": blob["local_path"]}
    blob.setdefault("replicas", [])
    for name in [blob["primary"], *blob["replicas"]]:
        if name not in stores:
            raise InvalidRecord(where, f"store '{name}' is not defined in blob_storage.stores", "blob_storage")
    blob.setdefault("min_copies", min(2, len(stores)) if stores else 1)
    sync = prefs.setdefault("sync_preferences", {})
    for k, v in DEFAULT_PREFERENCES["sync_preferences"].items():
        sync.setdefault(k, v)
    return prefs


def parse_sync_state(text: bytes, where: str) -> dict:
    return records.load_json("sync_state", text, where)


def active_stores(prefs: dict) -> list[str]:
    """Store names in order: the primary first, then the replicas."""
    blob = prefs["blob_storage"]
    out = [blob["primary"]]
    out += [r for r in blob.get("replicas", []) if r not in out]
    return out


def require_service(services: dict[str, dict], name: str) -> dict:
    if name not in services:
        known = ", ".join(sorted(services)) or "none yet"
        raise ConfigError(
            f"no service named '{name}' in config/services.json (configured: {known}); "
            f"add one with: photosync service add {name} --type local --path DIR"
        )
    return services[name]
