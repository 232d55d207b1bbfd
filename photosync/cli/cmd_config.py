"""photosync service add|list|remove, photosync auth, photosync store add|login|list.

The flags of ``service add``, ``store add`` and ``auth`` are not written here:
each type declares its options (photosync.options), so the words after the
command are handed to ``options.parse_args`` with the options of the type named
by ``--type`` (or, for ``auth``, of the service's type), and ``--help`` lists
those.  typer cannot give one command a signature per type, so these commands
take their extra words raw (click's ``allow_extra_args`` + ``ignore_unknown_options``)
and handle ``--help`` themselves; the rules live in library/settings.py.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Callable, Optional

import typer

from .app import LibraryOption, app, with_library

if TYPE_CHECKING:
    from ..options import Option


service_app = typer.Typer(help="Configure the services photosync scans (config/services.json).", no_args_is_help=True)
store_app = typer.Typer(help="Configure blob stores for originals (config/user-preferences.json).", no_args_is_help=True)
app.add_typer(service_app, name="service")
app.add_typer(store_app, name="store")

#: the words after the command reach the function as ctx.args; --help is ours
_RAW = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
_LIBRARY_HELP = "The library to use (default: $PHOTOSYNC_LIBRARY, else the library containing the current folder)."


def _guard(fn: Callable[[], None]) -> None:
    """Errors raised before the library is opened (a bad flag, an unknown type) exit like the rest."""
    from ..errors import PhotosyncError
    from . import ui

    try:
        fn()
    except PhotosyncError as e:
        ui.fail(str(e), e.exit_code)


def _help(usage: str, intro: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """Print a command's help in click's layout (plain text: flags and help side by side)."""
    lines = [f"Usage: photosync {usage}", ""]
    lines += ["  " + line for line in textwrap.wrap(intro, 96)] + [""]
    width = min(32, max((len(f) for _, rows in sections for f, _ in rows), default=10) + 2)
    for title, rows in sections:
        if not rows:
            continue
        lines.append(f"{title}:")
        for flags, text in rows:
            wrapped = textwrap.wrap(text, max(40, 96 - width)) or [""]
            if len(flags) + 2 > width:
                lines.append(f"  {flags}")
                lines += [" " * (width + 2) + w for w in wrapped]
            else:
                lines.append(f"  {flags.ljust(width)}{wrapped[0]}")
                lines += [" " * (width + 2) + w for w in wrapped[1:]]
        lines.append("")
    typer.echo("\n".join(lines).rstrip() + "\n")


def _option_sections(options, where_secrets: str) -> list[tuple[str, list[tuple[str, str]]]]:
    from ..options import help_entries

    entries = help_entries(options)
    titles = (("options", "Options"), ("secrets", f"Secrets ({where_secrets})"), ("advanced", "Advanced options"),
              ("config", "Set in the config file only"))
    return [(title, [(e.flags, e.help) for e in entries if e.section == key]) for key, title in titles]


_COMMON = [("-L, --library PATH", _LIBRARY_HELP), ("-h, --help", "Show this message and exit.")]


def _types_section(names: list[str], get) -> list[tuple[str, str]]:
    from ..errors import PhotosyncError

    rows = []
    for name in names:
        try:
            rows.append((name, get(name).summary()))
        except PhotosyncError as e:
            rows.append((name, f"(cannot load: {e})"))
    return rows


def _about(cls) -> str:
    summary = cls.summary()
    return f" ({summary})" if summary else ""


def _one_name(positional: list[str], what: str) -> str:
    from ..errors import UsageError

    if len(positional) != 1:
        extra = f" (got: {' '.join(positional)})" if positional else ""
        raise UsageError(f"give one NAME for the new {what}{extra}; --help says more")
    return positional[0]


# -- services ----------------------------------------------------------------------------------------

@service_app.command("add", context_settings=_RAW, add_help_option=False)
def service_add(
    ctx: typer.Context,
    type_: Optional[str] = typer.Option(None, "--type", "-t", help="The service type (--type T --help: its options)."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Add a service: NAME --type TYPE and the type's options (--type TYPE --help lists them).  Secrets go
    to your user config folder (mode 0600), never to the library."""
    _guard(lambda: _service_add(type_, list(ctx.args), library))


def _service_add(type_: str | None, args: list[str], library: str | None) -> None:
    from ..errors import UsageError
    from ..library import settings
    from ..options import parse_args

    if type_ is None:
        if not args or "--help" in args or "-h" in args:
            _help("service add NAME --type TYPE [OPTIONS]",
                  "Add a service (a place photos are found, or sent to) to config/services.json. Each type takes "
                  "its own options: photosync service add --type TYPE --help lists them.",
                  [("Types", _types_section(settings.service_types(), settings.service_type)),
                   ("Options", [("-t, --type TYPE", "The service type."), ("NAME", settings.NAME_HELP)] + _COMMON)])
            return
        raise UsageError(f"--type is needed (one of {', '.join(settings.service_types())})")
    cls = settings.service_type(type_)
    parsed = parse_args(cls.declared_options(), args, what=cls.what())
    if parsed.help:
        _help(f"service add NAME --type {type_} [OPTIONS]",
              f"Add {cls.what()}{_about(cls)} to config/services.json. NAME: {settings.NAME_HELP}",
              _option_sections(cls.declared_options(), "saved in your user config folder, mode 0600; never in "
                                                         "the library") + [("Every command", _COMMON)])
        return
    name = _one_name(parsed.positional, "service")
    add_service(name, type_, parsed.values, library)


def add_service(name: str, type_: str, values: dict, library: str | None) -> None:
    """Add a service and say what was done (also used by ``photosync demo``)."""
    from ..library import settings
    from . import ui

    def body(lib, reporter):
        added = settings.add_service(lib, name, type_, values)
        if added.credentials is not None:
            ui.out.print(f"Saved the {type_} keys in {added.credentials} (mode 0600; not in the library)")
        path = added.entry.get("path")
        ui.out.print(f"Added service {name} ({type_}" + (f", {path}" if path else "") + ")")
        if added.signs_in:
            ui.out.print(f"Next: photosync auth {name}   (then photosync discover --service {name})")
        else:
            ui.out.print(f"Next: photosync discover --service {name}")

    with_library(body, library=library)


@app.command(context_settings=_RAW, add_help_option=False)
def auth(ctx: typer.Context, library: Optional[str] = LibraryOption) -> None:
    """Sign in to a service: NAME and its type's sign-in options (NAME --help lists them).  The token is saved
    in your user config folder, mode 0600 — never in the library.  What the sign-in asks (a code to paste) is
    read from standard input when it is not a terminal."""
    _guard(lambda: _auth(list(ctx.args), library))


def _auth(args: list[str], library: str | None) -> None:
    import sys

    from ..errors import ConfigError, PhotosyncError
    from ..library import settings
    from ..library.library import Library
    from ..options import parse_args
    from . import ui
    from .app import settings as global_settings

    words = [a for a in args if not a.startswith("-")]

    def service_name(lib) -> str:
        # the first word that names a service (an option's value may come before it)
        return next((w for w in words if w in lib.services), words[0] if words else "")

    if "--help" in args or "-h" in args:
        options: tuple[Option, ...] = ()
        what = "a service"
        if words:
            try:
                with Library.open(library or global_settings.library, write=False) as lib:
                    name = service_name(lib)
                    cls, options = settings.sign_in_options(lib, name)
                what = f"service {name} ({cls.type_name})"
            except PhotosyncError as e:
                what = f"a service ({e})"
        _help("auth NAME [OPTIONS]",
              f"Sign in to {what}; the token is saved in your user config folder (mode 0600), never in the "
              "library. The options depend on the service's type: photosync auth NAME --help lists them.",
              _option_sections(options, "replace the saved ones") + [("Every command", _COMMON)])
        return

    def body(lib, reporter):
        if not words:
            raise ConfigError("give the NAME of the service to sign in to")
        cls, options = settings.sign_in_options(lib, service_name(lib))
        parsed = parse_args(options, args, what=f"service {service_name(lib)} ({cls.type_name})")
        name = _one_name(parsed.positional, "sign-in")

        def ask(prompt: str, secret: bool = False) -> str:
            if secret and sys.stdin.isatty():  # a password: not echoed at a terminal
                import getpass

                return getpass.getpass(prompt + ": ").strip()
            ui.err.print(prompt + ":", end=" " if sys.stdin.isatty() else "\n")
            line = sys.stdin.readline()
            if not line:
                raise ConfigError("no code on standard input; nothing was saved")
            return line.strip()

        done = settings.sign_in(lib, name, parsed.values, ask)
        if done.saved_only:
            ui.out.print(f"Saved the keys of {name} outside the library (mode 0600); it has no sign-in")
            return
        ui.out.print(f"Signed in to {name} as {done.who}; the token is saved outside the library (mode 0600)")

    with_library(body, library=library)


@service_app.command("list")
def service_list(library: Optional[str] = LibraryOption) -> None:
    """List configured services."""
    from rich.table import Table

    from ..library import settings
    from . import ui

    def body(lib, reporter):
        rows = settings.service_rows(lib)
        if not rows:
            ui.out.print("No services yet: photosync service add NAME --type local --path DIR")
            return
        table = Table("name", "type", "enabled", "settings", "keys")
        for row in rows:
            table.add_row(row.name, row.type_name, row.state, ", ".join(f"{k}={v}" for k, v in row.settings),
                          row.keys or "")
        ui.out.print(table)

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
    from ..library import settings
    from . import ui

    def body(lib, reporter):
        done = settings.remove_service(lib, name, delete_credentials)
        ui.out.print(f"Removed service {name}; photos found there keep their records")
        if done.credentials is None:
            return
        where = done.credentials
        if done.deleted:
            ui.out.print(f"Deleted its saved keys and token ({where})")
        else:
            ui.out.print(f"Its saved keys and token are still in {where} (mode 0600), for any other library "
                         f"with a service named {name}; delete them with: rm {where}  "
                         f"(or: photosync service remove {name} --delete-credentials)")

    with_library(body, library=library)


# -- stores ------------------------------------------------------------------------------------------

@store_app.command("add", context_settings=_RAW, add_help_option=False)
def store_add(
    ctx: typer.Context,
    type_: Optional[str] = typer.Option(None, "--type", "-t", help="The store type (--type T --help: its options)."),
    primary: bool = typer.Option(False, "--primary", help="Make it the primary store (default: a replica)."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Add a blob store: NAME --type TYPE and the type's options (--type TYPE --help lists them); it becomes a
    replica (or the primary with --primary).  Keys go in with 'store login'."""
    _guard(lambda: _store_add(type_, primary, list(ctx.args), library))


def _store_add(type_: str | None, primary: bool, args: list[str], library: str | None) -> None:
    from ..errors import UsageError
    from ..library import settings
    from ..options import parse_args
    from . import ui

    common = [("--primary", "Make it the primary store (default: a replica).")] + _COMMON
    if type_ is None:
        if not args or "--help" in args or "-h" in args:
            _help("store add NAME --type TYPE [OPTIONS]",
                  "Add a blob store for originals to config/user-preferences.json. Each type takes its own "
                  "options: photosync store add --type TYPE --help lists them.",
                  [("Types", _types_section(settings.store_types(), settings.store_type)),
                   ("Options", [("-t, --type TYPE", "The store type."), ("NAME", settings.NAME_HELP)] + common)])
            return
        raise UsageError(f"--type is needed (one of {', '.join(settings.store_types())})")
    cls = settings.store_type(type_)
    parsed = parse_args(cls.declared_options(), args, what=cls.what())
    if parsed.help:
        _help(f"store add NAME --type {type_} [OPTIONS]",
              f"Add {cls.what()}{_about(cls)}: a replica, or the primary with --primary. NAME: "
              f"{settings.NAME_HELP}",
              _option_sections(cls.declared_options(), "saved in your user config folder, mode 0600; or later "
                                                         "with photosync store login NAME")
              + [("Other options", common)])
        return
    name = _one_name(parsed.positional, "store")

    def body(lib, reporter):
        added = settings.add_store(lib, name, type_, parsed.values, primary)
        ui.out.print(f"Added store {name}; min_copies is {added.min_copies}.")
        if added.credentials is not None:
            ui.out.print(f"Saved the keys of store {name} in {added.credentials} (mode 0600)")
        if added.keys_hint:
            ui.out.print(added.keys_hint)
        ui.out.print("Next: photosync replicate --execute")

    with_library(body, library=library)


@store_app.command("login")
def store_login(
    name: str = typer.Argument(..., help="The store."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Save a store's keys (asked for, one a line; read from stdin when it is not a terminal) in your user
    config folder, mode 0600 — never in the library."""
    import getpass
    import sys

    from ..errors import ConfigError
    from ..library import settings
    from . import ui

    def body(lib, reporter):
        _, keys = settings.store_keys(lib, name)
        if sys.stdin.isatty():
            # every key is asked without echo: a key id is half of a credential too
            values = {k.name: getpass.getpass(f"{k.prompt or k.help}: ") for k in keys}
        else:
            lines = sys.stdin.read().splitlines()
            if len(lines) < len(keys):
                raise ConfigError(f"give {', '.join(k.prompt or k.help for k in keys)} on {len(keys)} lines of "
                                  "standard input")
            values = {k.name: line for k, line in zip(keys, lines)}
        path = settings.save_store_keys(lib, name, values)
        ui.out.print(f"Saved the keys of store {name} in {path} (mode 0600)")

    with_library(body, write=False, library=library)


@store_app.command("list")
def store_list(library: Optional[str] = LibraryOption) -> None:
    """List blob stores."""
    from rich.table import Table

    from ..library import settings
    from . import ui

    def body(lib, reporter):
        rows, min_copies = settings.store_rows(lib)
        table = Table("name", "type", "role", "settings", "keys")
        for row in rows:
            table.add_row(row.name, row.type_name, row.state, ", ".join(f"{k}={v}" for k, v in row.settings),
                          row.keys or "")
        ui.out.print(table)
        ui.out.print(f"min_copies: {min_copies}")

    with_library(body, write=False, library=library)
