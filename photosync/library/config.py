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
    for name, entry in data.items():
        try:
            records.validate("services", {name: entry}, where)
            check_service_entry(name, entry, where)
        except InvalidRecord as e:
            bad.append(e)
            continue
        good[name] = entry
    return good, bad


def _type_class(kind: str, type_name: str, where: str, field: str):
    from ..errors import ConfigError

    from ..plugins import Registry

    registry: Registry[Any]  # connector types or store types
    if kind == "service":
        from ..connectors.registry import REGISTRY as registry
    else:
        from ..stores.registry import REGISTRY as registry
    if type_name not in registry.known_types():
        known = ", ".join(registry.known_types())
        raise InvalidRecord(where, f"unknown {kind} type '{type_name}' (known: {known})", field)
    try:
        return registry.get(type_name)
    except ConfigError as e:  # a plug-in that does not load
        raise InvalidRecord(where, str(e), field) from None


def _check_entry(cls, entry: dict, where: str, field: str, base: dict) -> None:
    """An entry against its type's options: a key the type does not declare is named
    with the type's own (a clearer message than the schema's), then the composed schema."""
    if cls.options is not None:
        from ..options import config_keys

        allowed = ["type", *config_keys(cls.declared_options())]
        for key in entry:
            if key not in allowed:
                why = ("; it cannot take uploads" if key == "upload_from" and cls.kind == "service" else "")
                raise InvalidRecord(where, f"{cls.what()} has no option '{key}'{why} (its options: "
                                           f"{', '.join(allowed[1:]) or 'none'})", f"{field}.{key}")
    records.validate_entry(cls.config_schema(base), entry, where, field)


def check_service_entry(name: str, entry: dict, where: str = SERVICES_FILE) -> None:
    """One service's entry checked by its type (the shared part was checked with the file)."""
    cls = _type_class("service", entry["type"], where, f"{name}.type")
    _check_entry(cls, entry, where, name, records.schema_def("services", "service"))


def check_store_entry(name: str, entry: dict, where: str = PREFERENCES_FILE) -> None:
    field = f"blob_storage.stores.{name}"
    cls = _type_class("store", entry["type"], where, f"{field}.type")
    _check_entry(cls, entry, where, field, records.schema_def("preferences", "store"))


def check_services(data: dict, where: str = SERVICES_FILE) -> None:
    """A whole services file about to be saved: the shared schema, then each entry
    whose type is installed (an entry of a type no installed package provides is
    left as it is: it is reported, and skipped, when the file is loaded)."""
    records.validate("services", data, where)
    from ..connectors.registry import known_types

    known = known_types()
    for name, entry in data.items():
        if entry["type"] in known:
            check_service_entry(name, entry, where)


def parse_preferences(text: bytes, where: str) -> dict:
    data = records.load_json("preferences", text, where)
    check_store_entries(data, where)
    if data.get("alerts"):
        from ..alerts import check_entries

        check_entries(data["alerts"], where)
    return normalise_preferences(data, where)


def check_store_entries(data: dict, where: str = PREFERENCES_FILE) -> None:
    for name, entry in ((data.get("blob_storage") or {}).get("stores") or {}).items():
        check_store_entry(name, entry, where)


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
