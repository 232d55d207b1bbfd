"""Amazon Photos sign-in: the browser's cookies, read from the file a person exports.

Amazon Photos has no public API and no OAuth; the web app signs its Amazon Drive v1 calls
with the browser's cookies (seed 000 "Cookie-based auth — cookies extracted from browser
session"). A person exports them as a JSON object (name -> value), a browser extension's
JSON list ([{name, value, domain, ...}]) or a Netscape ``cookies.txt``; browsers show the
names with hyphens (``at-main``), some tools with underscores (``at_main``): the wire wants
hyphens (seed 000 "Cookie key format"). The marketplace (TLD) is read from the names:
``at-main`` is amazon.com, ``at-acb{x}`` another marketplace (seed 000 "TLD detection";
trevorhobenshield/amazon_photos ``determine_tld``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ...errors import ConfigError

#: the names the service reads, as prefixes before the marketplace suffix (``main`` or ``acb{x}``)
_PREFIXES = ("session-id", "ubid", "at", "x", "sess-at", "sst")
#: ``at-acb{x}`` -> the TLD for marketplaces with two-part TLDs (the cookie keeps the last part)
_TWO_PART = {"uk": "co.uk", "jp": "co.jp", "au": "com.au", "br": "com.br", "mx": "com.mx", "tr": "com.tr",
             "sg": "com.sg", "nz": "co.nz", "za": "co.za"}
#: marketplaces whose uploads go to content-eu (SERVICES.md "content-eu for EU")
EU = ("co.uk", "de", "fr", "it", "es", "nl", "se", "pl", "com.tr", "com.be", "be")
_SUFFIXED = re.compile(r"^(ubid|at|x|sess-at|sst)-(main|acb[a-z]+)$")


def normalise(name: str) -> str:
    """The wire's spelling of one of the cookies the service reads (hyphens); other names as they are."""
    hyphened = name.strip().replace("_", "-")
    if hyphened == "session-id" or _SUFFIXED.match(hyphened):
        return hyphened
    return name.strip()


def parse(text: str, where: str) -> dict[str, str]:
    """name -> value of a cookies file in any of the three forms; names normalised."""
    stripped = text.lstrip("\ufeff").strip()
    pairs: list[tuple[str, str]] = []
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise ConfigError(f"{where}: not a JSON cookies file ({e})") from None
        if isinstance(data, dict) and isinstance(data.get("cookies"), (list, dict)):
            data = data["cookies"]  # {"cookies": [...]} as some exporters write
        if isinstance(data, dict):
            pairs = [(str(k), str(v)) for k, v in data.items() if not isinstance(v, (dict, list))]
        elif isinstance(data, list):
            for i, c in enumerate(data):
                if not isinstance(c, dict) or "name" not in c or "value" not in c:
                    raise ConfigError(f"{where}: entry {i + 1} of the list has no name and value")
                pairs.append((str(c["name"]), str(c["value"])))
        else:
            raise ConfigError(f"{where}: a JSON cookies file is an object or a list of cookies")
    else:
        for n, line in enumerate(stripped.splitlines(), 1):
            if line.startswith("#HttpOnly_"):
                line = line[len("#HttpOnly_"):]  # curl's marker for an HttpOnly cookie, not a comment
            elif not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 7:
                raise ConfigError(f"{where}: line {n} is not a Netscape cookie line (7 fields separated by tabs)")
            pairs.append((fields[5], fields[6]))
    return {normalise(k): v for k, v in pairs}


def marketplace(cookies: dict[str, str], where: str) -> tuple[str, str]:
    """(tld, suffix) from the names: ``at-main`` -> ("com", "main"), ``at-acbuk`` -> ("co.uk", "acbuk")."""
    suffixes = sorted({m.group(2) for k in cookies if (m := _SUFFIXED.match(k)) and m.group(1) == "at"})
    if not suffixes:
        raise ConfigError(f"{where}: no at-main (or at-acb…) cookie: export the cookies of a page of "
                          "Amazon Photos while signed in (https://www.amazon.com/photos)")
    if len(suffixes) > 1:
        raise ConfigError(f"{where}: cookies of several Amazon marketplaces ({', '.join('at-' + s for s in suffixes)});"
                          " export those of the one whose Amazon Photos you use")
    suffix = suffixes[0]
    if suffix == "main":
        return "com", suffix
    code = suffix[3:]
    return _TWO_PART.get(code, code), suffix


def needed(suffix: str) -> tuple[str, ...]:
    """The cookies every call needs (seed 000 "Required US cookies"; the refresh also reads sess-at, sst)."""
    return ("session-id", f"ubid-{suffix}", f"at-{suffix}")


def read(path: Path) -> tuple[dict[str, str], str, str]:
    """(cookies, tld, suffix) from the file at ``path``, checked; a clear error naming the file."""
    where = str(path)
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read the cookies file {where}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not a text file (export the cookies as JSON or cookies.txt)") from None
    cookies = parse(text, where)
    tld, suffix = marketplace(cookies, where)
    lacking = [k for k in needed(suffix) if not cookies.get(k)]
    if lacking:
        raise ConfigError(f"{where}: the cookie{'s' if len(lacking) > 1 else ''} {', '.join(lacking)} "
                          f"{'are' if len(lacking) > 1 else 'is'} missing: export every cookie of amazon.{tld}")
    keep = {k: v for k, v in cookies.items() if k == "session-id" or _SUFFIXED.match(k)}
    return keep, tld, suffix
