"""Alerts to a person, through apprise: a webhook, Pushover, e-mail … (issue 15).

``"alerts"`` in config/user-preferences.json lists where they go: plain web hooks (``json://host/path``)
or the path of an apprise config file (YAML or text) kept outside the library (mode 0600) for every
address that carries a secret (``pover://user@token``, ``mailtos://user:pass@…``): the preferences file
is committed to git and travels with sync, so any other address is refused there.

The same alert (its key: what happened and to which service) is sent at most once an hour; when the
condition clears (the cycle succeeds, the service answers again) its key is forgotten, so the next
failure is told at once. The times sent live in ``.git/photosync/alerts.json``: the library's private
state (never committed, like the index), so every library on a machine throttles its own alerts and a
lost file costs at most one alert sent again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from .errors import InvalidRecord

#: the same alert is sent at most once in this many seconds
PERIOD = 3600.0
STATE_FILE = "alerts.json"
#: apprise config files named in "alerts" (instead of a URL)
CONFIG_SUFFIXES = (".yml", ".yaml", ".txt", ".cfg", ".conf")


@dataclass(frozen=True)
class Alert:
    #: what happened and where ("cycle-failed", "credentials:frame", "refusing:family"): the throttle's unit
    key: str
    title: str
    body: str


def is_config_file(entry: str) -> bool:
    return entry.startswith("file://") or (
        "://" not in entry and entry.lower().endswith(CONFIG_SUFFIXES))


#: schemes allowed inline in the (committed) preferences: a web hook whose address carries no user
#: name, password or query. Every other apprise scheme keeps a key or token in its address
#: (pover://USER@TOKEN, tgram://BOTTOKEN/CHAT, slack://A/B/C, mailtos://USER:PASS@…), so it belongs in
#: an apprise config file outside the library: fail closed rather than learn each scheme's layout.
INLINE_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms")


def check_entries(entries, where: str) -> None:
    """Refuse an address that would put a secret into git (the preferences file is committed and
    travels with `photosync sync`): only plain web hooks may be named inline."""
    for i, entry in enumerate(entries or ()):
        if is_config_file(entry):
            continue
        if "://" not in entry:
            raise InvalidRecord(where, f"'{entry}' is neither a notification URL (scheme://…, as apprise takes "
                                       "them) nor an apprise config file (.yml, .yaml, .txt)", f"alerts[{i}]")
        try:
            parts = urlsplit(entry)
            secretive = bool(parts.username or parts.password or parts.query)
        except ValueError:
            parts, secretive = None, True
        scheme = parts.scheme.lower() if parts is not None else ""
        if secretive or scheme not in INLINE_SCHEMES:
            # the entry itself is not repeated: it may be the secret
            raise InvalidRecord(where, f"a {scheme or 'notification'}:// address carries a password, key or token "
                                       "and this file is committed to git; put it in an apprise config file "
                                       "outside the library (mode 0600) and name that file here (only plain web "
                                       "hooks, json:// xml:// form:// without user, password or query, may be "
                                       "named inline)", f"alerts[{i}]")


def _apprise_for(entry: str):
    import apprise

    a = apprise.Apprise()
    if is_config_file(entry):
        conf = apprise.AppriseConfig()
        path = entry[len("file://"):] if entry.startswith("file://") else entry
        ok = conf.add(os.path.expanduser(path)) and a.add(conf)
    else:
        ok = a.add(entry)
    return a if ok else None


def send_to(entry: str, title: str, body: str) -> str | None:
    """Send one notification to one entry of "alerts": None when it went, else why not."""
    import logging

    import apprise

    if is_config_file(entry):
        path = Path(os.path.expanduser(entry[len("file://"):] if entry.startswith("file://") else entry))
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = 0  # apprise says it cannot be read, below
        if mode & 0o077:
            # it holds addresses with their tokens: used only when no one else can read it (as credentials)
            return f"{path} can be read by other users; run: chmod 600 {path}"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        a = _apprise_for(entry)
        if a is None:
            return "apprise does not understand this address (see https://github.com/caronc/apprise/wiki)"
        if len(a) == 0:
            return "the config file names no notification address (or cannot be read)"
        if a.notify(body=body, title=title):
            return None
        lines = [line.strip() for line in str(captured.getvalue()).splitlines() if line.strip()]
    return lines[-1] if lines else "the notification was not accepted"


class Alerts:
    """The alerts of one library: where they go, and when each was last sent."""

    def __init__(self, entries: list[str], state_dir: Path, clock: Callable[[], float] = time.time,
                 period: float = PERIOD):
        self.entries = list(entries)
        self.path = Path(state_dir) / STATE_FILE
        self.clock = clock
        self.period = period

    def _load(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}

    def _save(self, state: dict[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def send(self, alert: Alert) -> tuple[bool, list[str]]:
        """(sent, failures): not sent when there is nowhere to send it or the same alert went out less
        than an hour ago; failures name each address that did not take it."""
        if not self.entries:
            return False, []
        state = self._load()
        now = self.clock()
        last = state.get(alert.key)
        if last is not None and now - last < self.period:
            return False, []
        failures = []
        for entry in self.entries:
            why = send_to(entry, alert.title, alert.body)
            if why is not None:
                failures.append(f"{_shown(entry)}: {why}")
        if len(failures) < len(self.entries):  # it reached someone: throttled from now on
            state[alert.key] = now
            self._save(state)
        return len(failures) < len(self.entries), failures

    def clear(self, *keys: str) -> None:
        """The conditions behind ``keys`` are over: the next time one happens it is sent at once."""
        state = self._load()
        if any(k in state for k in keys):
            for k in keys:
                state.pop(k, None)
            self._save(state)


def _shown(entry: str) -> str:
    """An address as it may be printed: scheme and host only (a token in its path stays unprinted)."""
    if is_config_file(entry):
        return entry
    parts = urlsplit(entry)
    if parts.scheme.lower() not in _HOST_SCHEMES:
        # most apprise schemes carry a token where a host would be (pover://USER@TOKEN,
        # slack://TOKEN_A/TOKEN_B/TOKEN_C, tgram://BOT_TOKEN/CHAT): the scheme alone is printed
        return f"{parts.scheme}://…"
    return f"{parts.scheme}://{parts.hostname or ''}…"


#: apprise schemes whose host part is a host (apprise's JSON, XML, form and e-mail plugins)
_HOST_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"})
