"""The rules for adding, removing and signing in to services and stores: what
``photosync service add|remove|list``, ``auth`` and ``store add|login|list`` do,
as library functions the CLI calls (it only parses, calls and renders).

Every type is treated alike, from what it declares (photosync.options): its
options, which of them are secrets (saved in the user's credentials file, mode
0600, never in config/), whether it can upload (only then may it name
``upload_from``), whether it signs in (``auth``; the account it signs in to is
recorded in its config entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import credentials
from ..errors import ConfigError, InvalidRecord, UsageError
from ..options import Option, secret_options
from . import config as cfg
from .layout import PREFERENCES_FILE, SERVICES_FILE

if TYPE_CHECKING:
    from ..connectors.base import Connector
    from ..stores.base import BlobStore

NAME_HELP = "A short name: lower-case letters, digits, '.', '_' or '-'."
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(f"name {name!r}: {NAME_HELP}")


def service_type(type_name: str) -> type[Connector]:
    """The connector class of a service type (ConfigError naming the known ones)."""
    from ..connectors.registry import connector_class

    return connector_class(type_name)


def store_type(type_name: str) -> type[BlobStore]:
    from ..stores.registry import store_class

    return store_class(type_name)


def service_types() -> list[str]:
    from ..connectors.registry import known_types

    return known_types()


def store_types() -> list[str]:
    from ..stores.registry import known_types

    return known_types()


def _split(cls, values: dict[str, Any], options: tuple[Option, ...] | None = None) -> tuple[dict, dict]:
    """(plain values, secret values); a value the type does not take is refused with its flag
    (a key given to a type without secrets, a folder given to a bucket...)."""
    declared = {o.name: o for o in (options if options is not None else cls.declared_options())}
    unknown = [k for k in values if k not in declared or not declared[k].cli]
    if unknown:
        flags = ", ".join(declared[k].flag_name if k in declared else "--" + k.replace("_", "-") for k in unknown)
        raise ConfigError(f"{cls.what()} takes no {flags}")
    plain = {k: v for k, v in values.items() if not declared[k].secret}
    secret = {k: v for k, v in values.items() if declared[k].secret and v not in (None, "")}
    return plain, secret


# -- services --------------------------------------------------------------------------------------

@dataclass
class ServiceAdded:
    name: str
    type_name: str
    entry: dict
    #: where its secrets were saved (None: the type has none)
    credentials: Path | None
    #: the type has a sign-in: ``photosync auth NAME`` comes next
    signs_in: bool


def add_service(lib, name: str, type_name: str, values: dict[str, Any]) -> ServiceAdded:
    """Add a service of ``type_name`` with these option values (option name -> value,
    as :func:`photosync.options.parse_args` gives them): checked, its secrets saved
    outside the library, its entry committed to config/services.json."""
    check_name(name)
    cls = service_type(type_name)
    plain, secrets = _split(cls, values)
    services = lib.raw_services()
    if name in services:
        raise ConfigError(f"a service named '{name}' already exists ({services[name].get('type')})")
    for source in plain.get("upload_from") or ():
        if source not in services:
            raise ConfigError(f"--upload-from {source}: no service of that name "
                              f"(have: {', '.join(sorted(services)) or 'none'})")
    enabled = bool(plain.pop("enabled", True))
    entry = {"type": type_name, "enabled": enabled, **cls.config_from_options(plain, lib.root)}
    try:  # the whole file, as for a hand edit: its schema, secret-looking keys, each entry by its type
        cfg.check_services({**services, name: entry}, SERVICES_FILE)
    except InvalidRecord as e:
        raise ConfigError(f"{e}; nothing was added") from None
    saved_at = None
    if secret_options(cls.declared_options()):
        saved = cls.check_secrets(secrets, credentials.load(lib.ctx, "services", name))
        saved_at = credentials.save(lib.ctx, "services", name, saved)
    services[name] = entry
    lib.stage_config(SERVICES_FILE, services)
    lib.commit(f"service: add {name} ({type_name})")
    return ServiceAdded(name, type_name, entry, saved_at, cls.signs_in())


@dataclass
class ServiceRemoved:
    name: str
    #: its credentials file, when there is one
    credentials: Path | None
    deleted: bool


def remove_service(lib, name: str, delete_credentials: bool = False) -> ServiceRemoved:
    """Remove a service's config entry (its photo records are kept).  Its credentials
    file is named after the service, not the library (another library on this machine
    with a service of that name signs in with it), so it is removed only when asked."""
    services = lib.raw_services()
    if name not in services:
        raise ConfigError(f"no service named '{name}'")
    del services[name]
    lib.stage_config(SERVICES_FILE, services)
    lib.commit(f"service: remove {name} (its photo records are kept)")
    found = credentials.saved(lib.ctx, "services", name)
    if not found:
        return ServiceRemoved(name, None, False)
    json_file = credentials.location(lib.ctx, "services", name)
    where = json_file if json_file in found else found[0]
    if delete_credentials:
        credentials.forget(lib.ctx, "services", name)
    return ServiceRemoved(name, where, delete_credentials)


@dataclass
class SignedIn:
    who: str
    account: str | None
    #: the account was recorded in the service's config (new, or another than before)
    recorded: bool
    #: a type without a sign-in (an iCloud shared album's address): its secrets were replaced, that is all
    saved_only: bool = False


def sign_in_options(lib, name: str) -> tuple[type[Connector], tuple[Option, ...]]:
    """The type of service ``name`` and the options ``auth`` takes for it (its secrets, then its sign-in's)."""
    conf = cfg.require_service(lib.services, name)
    cls = service_type(conf.get("type", ""))
    return cls, (*secret_options(cls.declared_options()), *cls.declared_login_options())


def sign_in(lib, name: str, values: dict[str, Any], ask: Callable[[str], str]) -> SignedIn:
    """Sign in to service ``name`` (secrets given replace the saved ones first); the
    account signed in to is recorded in its config entry, so a token for another
    account is refused later."""
    from ..connectors.base import ConnectorContext
    from ..connectors.registry import create

    cls, options = sign_in_options(lib, name)
    _, secrets = _split(cls, values, options)
    login_names = {o.name for o in cls.declared_login_options()}
    if not cls.signs_in() and not secrets:
        flags = " ".join(o.flag_name for o in secret_options(cls.declared_options()))
        raise ConfigError(f"service {name} ({cls.type_name}) has no sign-in"
                          + (f"; give {flags} to replace what is saved" if flags else ""))
    if secrets:
        credentials.save(lib.ctx, "services", name,
                         cls.check_secrets(secrets, credentials.load(lib.ctx, "services", name)))
    if not cls.signs_in():
        return SignedIn("", None, False, saved_only=True)
    conf = lib.services[name]
    conn = create(name, conf, ConnectorContext(library_root=lib.root, ctx=lib.ctx, report=lib.report))
    who = conn.login(ask, **{k: v for k, v in values.items() if k in login_names})
    account = conn.account
    recorded = False
    if account:
        services = lib.raw_services()
        if services[name].get("account") != account:
            services[name]["account"] = account
            lib.stage_config(SERVICES_FILE, services)
            lib.commit(f"service: {name} is account {account}")
            recorded = True
    return SignedIn(who, account, recorded)


@dataclass
class Row:
    name: str
    type_name: str
    #: enabled (services) or primary/replica/inactive (stores)
    state: str
    #: (key, value as text) in the order the type declares its options
    settings: list[tuple[str, str]] = field(default_factory=list)
    #: saved / missing for a type with secrets (None: it has none)
    keys: str | None = None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _settings(cls, entry: dict, skip: tuple[str, ...]) -> list[tuple[str, str]]:
    order = [o.name for o in cls.declared_options()] if cls is not None else []
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        if key in skip:
            continue
        if isinstance(value, dict) and any(n.startswith(key + ".") for n in order):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    ranked = sorted(flat, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [(k, _shown(flat[k])) for k in ranked]


def _keys_state(lib, cls, kind: str, name: str) -> str | None:
    if cls is None or not secret_options(cls.declared_options()):
        return None
    return "saved" if credentials.location(lib.ctx, kind, name).exists() else "missing"


def service_rows(lib) -> list[Row]:
    from ..errors import PhotosyncError

    rows = []
    for name, conf in sorted(lib.services.items()):
        try:
            cls = service_type(conf.get("type", ""))
        except PhotosyncError:
            cls = None
        rows.append(Row(name, conf.get("type", "?"), "yes" if conf.get("enabled", True) else "no",
                        _settings(cls, conf, ("type", "enabled")), _keys_state(lib, cls, "services", name)))
    return rows


# -- stores ----------------------------------------------------------------------------------------

@dataclass
class StoreAdded:
    name: str
    type_name: str
    entry: dict
    role: str
    min_copies: int
    #: what to tell the person about the store's keys (None: nothing)
    keys_hint: str | None
    credentials: Path | None = None


def add_store(lib, name: str, type_name: str, values: dict[str, Any], primary: bool = False) -> StoreAdded:
    """Add a blob store: the primary (the old primary becomes a replica) or a replica;
    ``min_copies`` grows to 2 once there are two active stores (never shrinks)."""
    check_name(name)
    cls = store_type(type_name)
    plain, secrets = _split(cls, values)
    prefs = lib.raw_preferences()
    blob = prefs["blob_storage"]
    stores = blob.setdefault("stores", {})
    if name in stores:
        raise ConfigError(f"a store named '{name}' already exists")
    entry: dict = {"type": type_name, **cls.config_from_options(plain, lib.root)}
    stores[name] = entry
    if primary:
        old = blob["primary"]
        blob["primary"] = name
        blob["replicas"] = [old] + [r for r in blob.get("replicas", []) if r not in (old, name)]
    else:
        blob["replicas"] = [*blob.get("replicas", []), name]
    active = 1 + len(blob["replicas"])
    blob["min_copies"] = max(int(blob.get("min_copies", 1)), min(2, active))
    try:  # schema, each store by its type, secret-looking keys: as for a hand edit
        lib.stage_config(PREFERENCES_FILE, prefs)
    except InvalidRecord as e:
        raise ConfigError(f"{e}; nothing was added") from None
    saved_at = None
    if secrets:
        saved_at = credentials.save(lib.ctx, "stores", name,
                                    cls.check_secrets(secrets, credentials.load(lib.ctx, "stores", name)))
    lib.commit(f"store: add {name} ({type_name}{', primary' if primary else ', replica'})")
    return StoreAdded(name, type_name, entry, "primary" if primary else "replica", blob["min_copies"],
                      None if saved_at else cls.keys_hint(name, entry), saved_at)


def store_keys(lib, name: str) -> tuple[type[BlobStore], list[Option]]:
    """The type of store ``name`` and the keys ``store login`` asks for (its secret options)."""
    stores = lib.preferences["blob_storage"]["stores"]
    if name not in stores:
        raise ConfigError(f"no store named '{name}' (have: {', '.join(sorted(stores))})")
    cls = store_type(stores[name]["type"])
    keys = secret_options(cls.declared_options())
    if not keys:
        raise ConfigError(f"store {name} ({cls.type_name}) has no keys to save")
    return cls, keys


def save_store_keys(lib, name: str, values: dict[str, str]) -> Path:
    """Save every key of store ``name`` (all are needed) in the user's credentials file."""
    cls, keys = store_keys(lib, name)
    missing = [k for k in keys if not (values.get(k.name) or "").strip()]
    if missing:
        raise ConfigError(f"every key of {cls.what()} is needed: " + ", ".join(k.prompt or k.help for k in keys))
    return credentials.save(lib.ctx, "stores", name, {k.name: values[k.name].strip() for k in keys})


def store_rows(lib) -> tuple[list[Row], int]:
    """Every store (primary, replicas, inactive), and min_copies."""
    from ..errors import PhotosyncError

    blob = lib.preferences["blob_storage"]
    active = cfg.active_stores(lib.preferences)
    rows = []
    for name, conf in sorted(blob["stores"].items()):
        role = "primary" if name == active[0] else ("replica" if name in active else "inactive")
        try:
            cls = store_type(conf.get("type", ""))
        except PhotosyncError:
            cls = None
        rows.append(Row(name, conf.get("type", "?"), role, _settings(cls, conf, ("type",)),
                        _keys_state(lib, cls, "stores", name)))
    return rows, int(blob.get("min_copies", 1))
