"""Options a connector or store type declares, and everything built from them.

The model is rclone's backend registry (``fs.RegInfo`` with its list of
``fs.Option``: name, help, default, required, advanced, sensitive): a type lists
its options once, on its class, and the command line (flags, ``--help``), the
config validation (a JSON-schema fragment per option, composed onto the shared
base schema) and the credentials split (secret options never reach config/)
are all derived from that list.  A new type brings its flags, help and
validation with it; nothing in ``cli/`` names a type.

No typer here: the CLI hands the words after ``--type T`` to :func:`parse_args`
and renders :func:`help_entries`; the library functions (library/settings.py)
take the parsed values.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from .errors import UsageError

TYPES = ("str", "path", "bool", "int", "float", "list", "map", "choice")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One setting of a service or store type.

    ``name`` is its key in the config entry; a dotted name is a key of a nested
    object (``rate_limit.requests_per_hour`` is ``{"rate_limit": {"requests_per_hour": …}}``).
    """

    name: str
    help: str
    type: str = "str"
    #: ``service add`` / ``store add`` refuse to go on without it (a secret: new or saved before)
    required: bool = False
    #: kept in the user's credentials file (mode 0600), never in config/
    secret: bool = False
    #: what the type uses when the option is not set (shown in --help; never written to config)
    default: Any = None
    #: listed apart in --help (rarely needed)
    advanced: bool = False
    #: ``choice``: the values allowed
    choices: tuple[str, ...] = ()
    #: ``map``: the names allowed (empty: any name)
    keys: tuple[str, ...] = ()
    #: extra JSON-schema keywords for the value (minimum, maximum, pattern...)
    schema: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: the flag (default ``--`` + the name with ``_`` and ``.`` as ``-``)
    flag: str | None = None
    #: ``bool``: the flag that sets it false (default ``--no-`` + the flag)
    off_flag: str | None = None
    #: False: not a flag (set by photosync itself, e.g. the account ``auth`` records, or by hand)
    cli: bool = True
    #: how the value is shown in --help (default from the type)
    metavar: str | None = None
    #: a secret: the question ``store login`` / ``auth`` asks for it (default: the help)
    prompt: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: type {self.type!r} is not one of {', '.join(TYPES)}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"option {self.name}: a choice needs its choices")

    # -- the command line -------------------------------------------------------------------
    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-").replace(".", "-")

    @property
    def off_flag_name(self) -> str | None:
        if self.type != "bool":
            return None
        return self.off_flag or "--no-" + self.flag_name[2:]

    @property
    def value_name(self) -> str:
        if self.metavar:
            return self.metavar
        return {"path": "DIR", "int": "N", "float": "N", "map": "NAME=VALUE", "list": "NAME",
                "choice": "|".join(self.choices)}.get(self.type, "TEXT")

    @property
    def repeatable(self) -> bool:
        return self.type in ("list", "map")

    def convert(self, raw: str, flag: str) -> Any:
        """The value of one word given after ``flag`` (UsageError naming the flag when it is not one)."""
        if self.type == "int":
            try:
                return int(raw)
            except ValueError:
                raise UsageError(f"{flag} {raw}: not a whole number") from None
        if self.type == "float":
            try:
                return float(raw)
            except ValueError:
                raise UsageError(f"{flag} {raw}: not a number") from None
        if self.type == "bool":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise UsageError(f"{flag}={raw}: use true or false")
        if self.type == "choice":
            if raw not in self.choices:
                raise UsageError(f"{flag} {raw}: use one of {', '.join(self.choices)}")
            return raw
        if self.type == "map":
            key, sep, value = raw.partition("=")
            if not sep or not key or not value:
                raise UsageError(f"{flag} {raw}: use NAME=VALUE")
            if self.keys and key not in self.keys:
                raise UsageError(f"{flag} {raw}: unknown name {key!r} (known: {', '.join(self.keys)})")
            return key, value
        if self.type == "path":
            if not raw:
                raise UsageError(f"{flag}: give a path")
            # a path on the command line is taken from where the command runs (config keeps it absolute)
            return os.path.abspath(os.path.expanduser(raw))
        return raw

    # -- the config file ----------------------------------------------------------------------
    def fragment(self) -> dict:
        """The JSON schema of this option's value in a config entry."""
        schemas: dict[str, dict[str, Any]] = {
            "str": {"type": "string"},
            "path": {"type": "string", "minLength": 1},
            "bool": {"type": "boolean"},
            "int": {"type": "integer"},
            "float": {"type": "number"},
            "list": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "choice": {"enum": list(self.choices)},
        }
        base = schemas[self.type]
        out = {"description": self.help, **copy.deepcopy(base)}
        if self.type == "map" and self.keys:
            out["propertyNames"] = {"enum": list(self.keys)}
        out.update(copy.deepcopy(dict(self.schema)))
        return out


# -- parsing the words of a command line ------------------------------------------------------

@dataclass
class Parsed:
    #: option name -> value (lists and maps gathered from repeated flags)
    values: dict[str, Any]
    #: words that are not flags (a service or store name)
    positional: list[str]
    #: --help / -h was among the words
    help: bool = False


def parse_args(options: Iterable[Option], args: list[str], *, what: str) -> Parsed:
    """The option values in ``args`` (``--flag VALUE``, ``--flag=VALUE``, a bool's
    ``--flag`` / ``--no-flag``, a list's or map's flag repeated).  ``what`` names the
    type in messages ("a local service").  An unknown flag is refused with the type's own."""
    by_flag: dict[str, tuple[Option, bool]] = {}
    for opt in options:
        if not opt.cli:
            continue
        by_flag[opt.flag_name] = (opt, True)
        if opt.off_flag_name:
            by_flag[opt.off_flag_name] = (opt, False)
    values: dict[str, Any] = {}
    positional: list[str] = []
    # asked for help: what else is on the line cannot be an error
    wants_help = "--help" in args or "-h" in args
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word in ("--help", "-h"):
            continue
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        flag, eq, inline = word.partition("=")
        if flag not in by_flag:
            if wants_help:
                continue
            known = [f for f, (o, on) in by_flag.items() if on]
            raise UsageError(f"{what} has no option {flag}" + (f" (its options: {', '.join(known)}; "
                                                                   "--help lists them)" if known else
                                                                   " (it takes none)"))
        opt, on = by_flag[flag]
        if opt.type == "bool":
            value: Any = on if not eq else opt.convert(inline, flag)
            if not on and eq:
                raise UsageError(f"{word}: {flag} takes no value")
        else:
            if eq:
                raw = inline
            elif i < len(args):
                raw = args[i]
                i += 1
            else:
                if wants_help:
                    break
                raise UsageError(f"{flag} needs a value ({opt.value_name})")
            value = opt.convert(raw, flag)
        if opt.type == "list":
            seen = values.setdefault(opt.name, [])
            if value not in seen:
                seen.append(value)
        elif opt.type == "map":
            key, v = value
            values.setdefault(opt.name, {})[key] = v
        else:
            if opt.name in values and values[opt.name] != value:
                raise UsageError(f"{flag} given twice")
            values[opt.name] = value
    return Parsed(values, positional, wants_help)


# -- config entries --------------------------------------------------------------------------------

def to_config(options: Iterable[Option], values: Mapping[str, Any]) -> dict:
    """The config entry's part for the non-secret values given (dotted names nested)."""
    out: dict[str, Any] = {}
    for opt in options:
        if opt.secret or opt.name not in values:
            continue
        value = values[opt.name]
        parts = opt.name.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def compose(base: Mapping[str, Any], options: Iterable[Option], *, closed: bool = True) -> dict:
    """An entry's JSON schema: the shared ``base`` (its ``type``, its refusal of
    secret-looking names...) plus each non-secret option's fragment; ``closed``:
    a key no option declares is refused."""
    schema = copy.deepcopy(dict(base))
    schema.setdefault("properties", {})
    required = list(schema.get("required", []))
    for opt in options:
        if opt.secret:
            continue
        parts = opt.name.split(".")
        node = schema
        for part in parts[:-1]:
            child = node.setdefault("properties", {}).setdefault(part, {"type": "object", "properties": {}})
            if closed:
                child["additionalProperties"] = False
            node = child
        node.setdefault("properties", {})[parts[-1]] = opt.fragment()
        if opt.required and len(parts) == 1 and opt.name not in required:
            required.append(opt.name)
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def config_keys(options: Iterable[Option]) -> list[str]:
    """The top-level keys an entry may hold (for messages)."""
    out: list[str] = []
    for opt in options:
        if not opt.secret:
            top = opt.name.split(".")[0]
            if top not in out:
                out.append(top)
    return out


def secret_options(options: Iterable[Option]) -> list[Option]:
    return [o for o in options if o.secret]


# -- help ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HelpEntry:
    flags: str
    help: str
    section: str  # "options", "secrets", "advanced", "config"


def help_entries(options: Iterable[Option]) -> list[HelpEntry]:
    """What ``--help`` shows for these options, in their order: flags with their
    value, help with default, choices and whether it is required or repeatable."""
    out = []
    for opt in options:
        if opt.type == "bool":
            flags = opt.flag_name + (f" / {opt.off_flag_name}" if opt.off_flag or opt.default else "")
        else:
            flags = f"{opt.flag_name} {opt.value_name}"
        notes = []
        if opt.required:
            notes.append("required")
        if opt.repeatable:
            notes.append("repeatable")
        if opt.default not in (None, "", (), [], {}) and not (opt.type == "bool" and opt.default is False):
            shown = ("yes" if opt.default else "no") if opt.type == "bool" else opt.default
            notes.append(f"default {shown}")
        if opt.keys:
            notes.append("names: " + ", ".join(opt.keys))
        text = opt.help + (f" [{'; '.join(notes)}]" if notes else "")
        if not opt.cli:
            section, flags = "config", opt.name
        elif opt.secret:
            section = "secrets"
        elif opt.advanced:
            section = "advanced"
        else:
            section = "options"
        out.append(HelpEntry(flags, text, section))
    return out


# -- what connector and store types share ------------------------------------------------------

class Declares:
    """The declared-options half of a connector or store type (mixed into both
    base classes).  A type lists ``options``; everything else here has a default
    built from that list, and a type overrides a hook only to check the world
    (a folder that must exist) or to normalise a value."""

    #: "service" or "store", for messages
    kind: ClassVar[str] = "thing"
    type_name: ClassVar[str]
    #: one line for --help's list of types (default: the class docstring's first line)
    description: ClassVar[str] = ""
    #: the type's own settings, in the order --help shows them
    options: ClassVar[tuple[Option, ...] | None] = ()

    @classmethod
    def summary(cls) -> str:
        if cls.description:
            return cls.description
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].rstrip(".") if doc else ""

    @classmethod
    def what(cls) -> str:
        """"a local service", for messages."""
        name = cls.type_name
        # "an s3 store": a letter said on its own (before a digit) may start with a vowel sound
        vowel = name[:1] in "aeiou" or (name[:1] in "fhlmnrsx" and name[1:2].isdigit())
        return f"{'an' if vowel else 'a'} {name} {cls.kind}"

    @classmethod
    def declared_options(cls) -> tuple[Option, ...]:
        """Every option an entry of this type takes (shared ones first)."""
        return tuple(cls.options or ())

    @classmethod
    def config_schema(cls, base: Mapping[str, Any]) -> dict:
        """The JSON schema of one config entry of this type: ``base`` (the shared
        part, from the library's schema file) plus the type's options; other keys refused."""
        return compose(base, cls.declared_options(), closed=True)

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        """A hook for ``add``: the entry about to be saved, checked against the world
        (a folder that must exist) and normalised; raise ConfigError naming the flag."""
        return config

    @classmethod
    def config_from_options(cls, options: dict, library_root: Path) -> dict:
        """The config entry's own part (no secrets, no ``type``) for the values given."""
        from .errors import ConfigError

        declared = cls.declared_options()
        missing = [o for o in declared if o.required and not o.secret and o.cli and o.name not in options]
        if missing:
            raise ConfigError(f"{cls.what()} needs " + " and ".join(
                f"{o.flag_name} {o.value_name} ({o.help.rstrip('.')})" for o in missing))
        return cls.check_config(to_config(declared, options), library_root)

    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        """The secrets to save: those given over those saved before; raise when a
        required one is in neither."""
        from .errors import ConfigError

        merged = {**(existing or {}), **{k: v for k, v in secrets.items() if v not in (None, "")}}
        missing = [o for o in secret_options(cls.declared_options()) if o.required and not merged.get(o.name)]
        if missing:
            raise ConfigError(f"{cls.what()} needs {' and '.join(o.flag_name for o in missing)} "
                              f"({'; '.join(o.help.rstrip('.') for o in missing)})")
        return merged
