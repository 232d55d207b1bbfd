"""photosync service add|list|remove, photosync store add|list: edit config/ with a commit."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, app, with_library

service_app = typer.Typer(help="Configure the services photosync scans (config/services.json).", no_args_is_help=True)
store_app = typer.Typer(help="Configure blob stores for originals (config/user-preferences.json).", no_args_is_help=True)
app.add_typer(service_app, name="service")
app.add_typer(store_app, name="store")

_NAME_HELP = "A short name: lower-case letters, digits, '.', '_' or '-'."


def _check_name(name: str) -> None:
    import re

    from ..errors import UsageError

    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name):
        raise UsageError(f"name {name!r}: {_NAME_HELP}")


@service_app.command("add")
def service_add(
    name: str = typer.Argument(..., help=_NAME_HELP),
    type_: str = typer.Option(..., "--type", "-t", help="Service type, e.g. local."),
    path: Optional[str] = typer.Option(None, "--path", help="local: the folder to scan."),
    api_key: Optional[str] = typer.Option(None, "--api-key", help="flickr: the app's API key (saved outside the library)."),
    api_secret: Optional[str] = typer.Option(
        None, "--api-secret", help="flickr: the app's API secret (saved outside the library, mode 0600)."
    ),
    upload_from: Optional[list[str]] = typer.Option(
        None, "--upload-from", help="Upload photos found on this service (repeatable) to the new one on replicate."
    ),
    endpoint: Optional[list[str]] = typer.Option(
        None, "--endpoint", help="NAME=URL: override one of the service's URLs (proxies, tests); repeatable."
    ),
    requests_per_hour: Optional[float] = typer.Option(None, "--requests-per-hour", help="API call budget."),
    follow_links: bool = typer.Option(
        False, "--follow-links", help="local: also follow symbolic links that lead outside the folder."
    ),
    library: Optional[str] = LibraryOption,
    disabled: bool = typer.Option(False, "--disabled", help="Add it switched off."),
) -> None:
    """Add a service to config/services.json (no secrets are stored there)."""
    from .. import credentials, records
    from ..connectors import registry
    from ..errors import ConfigError, InvalidRecord
    from ..library.layout import SERVICES_FILE
    from . import ui

    def body(lib, reporter):
        _check_name(name)
        cls = registry.connector_class(type_)
        services = lib.raw_services()
        if name in services:
            raise ConfigError(f"a service named '{name}' already exists ({services[name].get('type')})")
        for source in upload_from or ():
            if source not in services:
                raise ConfigError(f"--upload-from {source}: no service of that name (have: {', '.join(services)})")
        endpoints = {}
        for e in endpoint or ():
            key, sep, url = e.partition("=")
            if not sep or not url:
                raise ConfigError(f"--endpoint {e}: use NAME=URL")
            endpoints[key] = url
        options = {"path": path, "upload_from": upload_from, "endpoints": endpoints,
                   "requests_per_hour": requests_per_hour, "follow_links": follow_links}
        entry = {"type": type_, "enabled": not disabled}
        entry.update(cls.config_from_options({k: v for k, v in options.items() if v}, lib.root))
        try:  # the whole file is checked (schema, secret-looking keys) before anything is saved
            records.validate("services", {**services, name: entry}, SERVICES_FILE)
        except InvalidRecord as e:
            raise ConfigError(f"{e}; nothing was added") from None
        secrets = {"api_key": api_key, "api_secret": api_secret}
        given = {k: v for k, v in secrets.items() if v}
        if given and not cls.secret_options:
            raise ConfigError(f"a {type_} service takes no {', '.join('--' + k.replace('_', '-') for k in given)}")
        if cls.secret_options:
            saved = cls.check_secrets(given, credentials.load(lib.ctx, "services", name))
            where = credentials.save(lib.ctx, "services", name, saved)
            ui.out.print(f"Saved the {type_} keys in {where} (mode 0600; not in the library)")
        services[name] = entry
        lib.stage_config(SERVICES_FILE, services)
        lib.commit(f"service: add {name} ({type_})")
        ui.out.print(f"Added service {name} ({type_}" + (f", {entry['path']}" if "path" in entry else "") + ")")
        if cls.secret_options:
            ui.out.print(f"Next: photosync auth {name}   (then photosync discover --service {name})")
        else:
            ui.out.print(f"Next: photosync discover --service {name}")

    with_library(body, library=library)


@app.command()
def auth(
    name: str = typer.Argument(..., help="The service to sign in to."),
    perms: Optional[str] = typer.Option(
        None, "--perms", help="read, write or delete (default: write when the service takes uploads, else read)."
    ),
    api_key: Optional[str] = typer.Option(None, "--api-key", help="Replace the saved API key."),
    api_secret: Optional[str] = typer.Option(None, "--api-secret", help="Replace the saved API secret."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Sign in to a service (Flickr: OAuth with a code you paste, so it works over SSH).  The token is saved
    in your user config folder, mode 0600 — never in the library.  The code is read from standard input
    when it is not a terminal."""
    import sys

    from .. import credentials
    from ..connectors import registry
    from ..errors import ConfigError
    from ..library import config as cfg
    from ..phases.common import Connectors
    from . import ui

    def body(lib, reporter):
        conf = cfg.require_service(lib.services, name)
        cls = registry.connector_class(conf.get("type", ""))
        if api_key or api_secret:
            if not cls.secret_options:
                raise ConfigError(f"service {name} takes no API key")
            given = {k: v for k, v in {"api_key": api_key, "api_secret": api_secret}.items() if v}
            credentials.save(lib.ctx, "services", name,
                             cls.check_secrets(given, credentials.load(lib.ctx, "services", name)))
        conn = Connectors(lib).get(name)

        def ask(prompt: str) -> str:
            ui.err.print(prompt + ":", end=" " if sys.stdin.isatty() else "\n")
            line = sys.stdin.readline()
            if not line:
                raise ConfigError("no code on standard input; nothing was saved")
            return line.strip()

        who = conn.login(ask, perms)
        account = getattr(conn, "account", None)
        if account and lib.raw_services()[name].get("account") != account:
            # the account this library's service is: a token for another account is refused later
            from ..library.layout import SERVICES_FILE

            services = lib.raw_services()
            services[name]["account"] = account
            lib.stage_config(SERVICES_FILE, services)
            lib.commit(f"service: {name} is account {account}")
        ui.out.print(f"Signed in to {name} as {who}; the token is saved outside the library (mode 0600)")

    with_library(body, library=library)


@service_app.command("list")
def service_list(library: Optional[str] = LibraryOption) -> None:
    """List configured services."""
    from rich.table import Table

    from . import ui

    def body(lib, reporter):
        table = Table("name", "type", "enabled", "settings")
        for name, conf in sorted(lib.services.items()):
            extra = ", ".join(f"{k}={v}" for k, v in conf.items() if k not in ("type", "enabled"))
            table.add_row(name, conf.get("type", "?"), "yes" if conf.get("enabled", True) else "no", extra)
        ui.out.print(table if lib.services else "No services yet: photosync service add NAME --type local --path DIR")

    with_library(body, write=False, library=library)


@service_app.command("remove")
def service_remove(
    name: str,
    delete_credentials: bool = typer.Option(
        False, "--delete-credentials",
        help="Also delete the service's saved keys and token (shared by every library on this machine that has "
             "a service of this name).",
    ),
    library: Optional[str] = LibraryOption,
) -> None:
    """Remove a service from the config.  Photo records and their instances are kept.  Its saved keys and
    token (user config folder) are kept unless --delete-credentials: other libraries may use them."""
    from .. import credentials
    from ..errors import ConfigError
    from ..library.layout import SERVICES_FILE
    from . import ui

    def body(lib, reporter):
        services = lib.raw_services()
        if name not in services:
            raise ConfigError(f"no service named '{name}'")
        del services[name]
        lib.stage_config(SERVICES_FILE, services)
        lib.commit(f"service: remove {name} (its photo records are kept)")
        ui.out.print(f"Removed service {name}; photos found there keep their records")
        # the file is named after the service, not the library: another library on this machine with a
        # service of the same name signs in with it, so it is removed only when asked
        where = credentials.location(lib.ctx, "services", name)
        if where.exists():
            if delete_credentials:
                credentials.forget(lib.ctx, "services", name)
                ui.out.print(f"Deleted its saved keys and token ({where})")
            else:
                ui.out.print(f"Its saved keys and token are still in {where} (mode 0600), for any other library "
                             f"with a service named {name}; delete them with: rm {where}  "
                             f"(or: photosync service remove {name} --delete-credentials)")

    with_library(body, library=library)


@store_app.command("add")
def store_add(
    name: str = typer.Argument(..., help=_NAME_HELP),
    type_: str = typer.Option(..., "--type", "-t", help="Store type: local, s3 or b2."),
    path: Optional[str] = typer.Option(None, "--path", help="local: the folder (e.g. a NAS mount)."),
    bucket: Optional[str] = typer.Option(None, "--bucket", help="s3, b2: the bucket."),
    prefix: Optional[str] = typer.Option(None, "--prefix", help="s3, b2: a folder inside the bucket."),
    endpoint_url: Optional[str] = typer.Option(
        None, "--endpoint-url", help="s3, b2: an S3-compatible endpoint (MinIO, Wasabi, R2, B2, ...)."
    ),
    region: Optional[str] = typer.Option(None, "--region", help="s3, b2: the region (b2: e.g. us-west-004)."),
    storage_class: Optional[str] = typer.Option(None, "--storage-class", help="s3: e.g. STANDARD_IA."),
    profile: Optional[str] = typer.Option(None, "--profile", help="s3, b2: an AWS credentials profile to use."),
    primary: bool = typer.Option(False, "--primary", help="Make it the primary store (default: a replica)."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Add a blob store; it becomes a replica (or the primary with --primary).  Keys go in with 'store login'."""
    from ..errors import ConfigError, InvalidRecord
    from ..library.layout import PREFERENCES_FILE
    from ..stores import registry
    from . import ui

    def body(lib, reporter):
        _check_name(name)
        cls = registry.store_class(type_)
        prefs = lib.raw_preferences()
        blob = prefs["blob_storage"]
        stores = blob.setdefault("stores", {})
        if name in stores:
            raise ConfigError(f"a store named '{name}' already exists")
        options = {"path": path, "bucket": bucket, "prefix": prefix, "endpoint_url": endpoint_url,
                   "region": region, "storage_class": storage_class, "profile": profile}
        entry: dict = {"type": type_, **cls.config_from_options(options, lib.root)}
        stores[name] = entry
        if primary:
            old = blob["primary"]
            blob["primary"] = name
            blob["replicas"] = [old] + [r for r in blob.get("replicas", []) if r not in (old, name)]
        else:
            blob["replicas"] = [*blob.get("replicas", []), name]
        active = 1 + len(blob["replicas"])
        blob["min_copies"] = max(int(blob.get("min_copies", 1)), min(2, active))
        try:  # schema and secret-looking keys, as for a hand edit
            lib.stage_config(PREFERENCES_FILE, prefs)
        except InvalidRecord as e:
            raise ConfigError(f"{e}; nothing was added") from None
        lib.commit(f"store: add {name} ({type_}{', primary' if primary else ', replica'})")
        ui.out.print(f"Added store {name}; min_copies is {blob['min_copies']}.")
        if type_ in ("s3", "b2") and not profile:
            ui.out.print(f"Keys: photosync store login {name} (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        ui.out.print("Next: photosync replicate --execute")

    with_library(body, library=library)


@store_app.command("login")
def store_login(
    name: str = typer.Argument(..., help="The store."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Save a store's access key id and secret (asked for; read from stdin when it is not a terminal)
    in your user config folder, mode 0600 — never in the library."""
    import getpass
    import sys

    from .. import credentials
    from ..errors import ConfigError
    from . import ui

    def body(lib, reporter):
        stores = lib.preferences["blob_storage"]["stores"]
        if name not in stores:
            raise ConfigError(f"no store named '{name}' (have: {', '.join(sorted(stores))})")
        if sys.stdin.isatty():
            key_id = input("Access key id (B2: application key id): ").strip()
            secret = getpass.getpass("Secret access key (B2: application key): ").strip()
        else:
            lines = sys.stdin.read().splitlines()
            if len(lines) < 2:
                raise ConfigError("give the access key id and the secret on two lines of standard input")
            key_id, secret = lines[0].strip(), lines[1].strip()
        if not key_id or not secret:
            raise ConfigError("both the access key id and the secret are needed")
        path = credentials.save(lib.ctx, "stores", name, {"access_key_id": key_id, "secret_access_key": secret})
        ui.out.print(f"Saved the keys of store {name} in {path} (mode 0600)")

    with_library(body, write=False, library=library)


@store_app.command("list")
def store_list(library: Optional[str] = LibraryOption) -> None:
    """List blob stores."""
    from rich.table import Table

    from ..library import config as cfg
    from . import ui

    def body(lib, reporter):
        blob = lib.preferences["blob_storage"]
        active = cfg.active_stores(lib.preferences)
        table = Table("name", "type", "role", "settings")
        for name, conf in sorted(blob["stores"].items()):
            role = "primary" if name == active[0] else ("replica" if name in active else "inactive")
            extra = ", ".join(f"{k}={v}" for k, v in conf.items() if k != "type")
            table.add_row(name, conf.get("type", "?"), role, extra)
        ui.out.print(table)
        ui.out.print(f"min_copies: {blob.get('min_copies')}")

    with_library(body, write=False, library=library)

