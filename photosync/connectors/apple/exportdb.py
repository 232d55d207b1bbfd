"""osxphotos' export database (``EXPORT/.osxphotos_export.db``): a foreign SQLite file this
connector only reads, never photosync's own index (library/index.py alone talks to that).

Its tables, from osxphotos ``export_db.py``: ``export_data(filepath, filepath_normalized, uuid, …)``
(``filepath`` relative to the export folder) and ``photoinfo(uuid, photoinfo)`` (the photo's
osxphotos JSON).  Opened read-only (``mode=ro``): osxphotos may be writing it (its journal is WAL).
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from pathlib import Path

from .sidecars import photoinfo_facts


class ExportDBError(Exception):
    """The database cannot be read (damaged, locked, not osxphotos')."""


def _key(path: str) -> str:
    return unicodedata.normalize("NFC", path).casefold()


def read_export_db(path: Path) -> tuple[dict[str, str], dict[str, dict]]:
    """(file path NFC-normalised and case-folded -> uuid, uuid -> facts) of an osxphotos export
    database, opened read-only (osxphotos may be writing it: its journal is WAL)."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise ExportDBError(str(e)) from None
    try:
        files = {_key(str(fp)): str(uuid)
                 for fp, uuid in conn.execute("SELECT filepath, uuid FROM export_data") if fp and uuid}
        facts: dict[str, dict] = {}
        has_info = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='photoinfo'").fetchone()
        if has_info:
            for uuid, info in conn.execute("SELECT uuid, photoinfo FROM photoinfo"):
                try:
                    doc = json.loads(info) if info else None
                except ValueError:
                    continue   # one bad row costs that photo its albums, not the export its ids
                if isinstance(doc, dict):
                    facts[str(uuid)] = photoinfo_facts(doc)
        return files, facts
    except sqlite3.Error as e:
        raise ExportDBError(str(e)) from None
    finally:
        conn.close()
