"""Sidecar metadata for folder-like sources: files next to a photo that say more about it.

Exports are folders of photos with sidecars: Google Takeout writes ``IMG_1.JPG.json`` (or
``IMG_1.JPG.supplemental-metadata.json``) beside each photo, osxphotos ``IMG_1.JPG.json`` or
``.xmp``, editors ``IMG_1.xmp``.  A connector over such a folder is the local connector given a
``SidecarReader`` (``LocalConnector.sidecar_reader``): the walk, the checks on reading, moves,
hidden files and links stay the folder connector's, and the reader says only two things --

* ``sidecars(name, names)``: which of the other names in the photo's folder are its sidecars;
* ``apply(metadata, sidecars)``: the photo's metadata once the sidecars' contents are applied
  to what the file says of itself (``media.ingest.metadata_from_probe``, with the folder's
  fall-backs: a date from the file name or its mtime, ``taken_date_source`` saying which).

What the folder connector does with a reader: a name claimed as a sidecar is not an item (and
not counted among the files it ignored), unless it is named like a photo or video; a sidecar's
size, mtime and inode are part of its photo's fingerprint, so an edited, added or removed sidecar
makes discover read the photo again; the sidecars' bytes (at most MAX_SIDECAR_BYTES each) are read
where the photo is read, in a worker process: a reader must be picklable (a plain class at module
level).  A sidecar that cannot be read, or that ``apply`` refuses (any exception), costs the photo
nothing but a warning naming the sidecar: it is recorded with the file's own metadata.

``apply`` returns a ``model.Metadata``; the sources it states come from the record schema's lists
(``taken_date_source``, ``location_source``): an export's statement is the service's ("service").
"""

from __future__ import annotations

import os
from typing import AbstractSet, Mapping, Protocol, runtime_checkable

from ..model import Metadata

#: a sidecar larger than this is not read (metadata sidecars are a few kB; a larger file
#: claimed as one is more likely a mistake than metadata)
MAX_SIDECAR_BYTES = 4 * 1024 * 1024


@runtime_checkable
class SidecarReader(Protocol):
    #: what the sidecars are, for messages ("Takeout JSON", "XMP")
    label: str

    def sidecars(self, name: str, names: AbstractSet[str]) -> tuple[str, ...]:
        """The names among ``names`` (every other name in the folder of the photo or video
        called ``name``; names that are not UTF-8 come decoded with surrogateescape, as
        ``os.fsdecode`` gives them) that are its sidecars, in the order ``apply`` wants them."""
        ...

    def apply(self, metadata: Metadata, sidecars: Mapping[str, bytes]) -> Metadata:
        """``metadata`` with what the sidecars say (name -> contents, every name ``sidecars``
        gave); raise (any exception, its message naming what is wrong) when they cannot be read."""
        ...


def read_sidecars(folder: bytes, names: tuple[bytes, ...]) -> tuple[dict[str, bytes], list[str]]:
    """(name -> contents, problems) of the sidecars ``names`` in ``folder`` (bytes paths)."""
    out: dict[str, bytes] = {}
    problems: list[str] = []
    for raw in names:
        name = os.fsdecode(raw)
        try:
            with open(folder + b"/" + raw, "rb") as f:
                data = f.read(MAX_SIDECAR_BYTES + 1)
        except OSError as e:
            problems.append(f"sidecar {name} cannot be read ({e.strerror or e})")
            continue
        if len(data) > MAX_SIDECAR_BYTES:
            problems.append(f"sidecar {name} is over {MAX_SIDECAR_BYTES // (1 << 20)} MiB; not read")
            continue
        out[name] = data
    return out, problems


def apply_sidecars(reader: SidecarReader, metadata: Metadata, folder: bytes,
                   names: tuple[bytes, ...]) -> tuple[Metadata, list[str]]:
    """``metadata`` with the sidecars ``names`` (in ``folder``) applied by ``reader``, and the
    warnings to give; with a sidecar that cannot be read, the file's own metadata."""
    contents, problems = read_sidecars(folder, names)
    if problems:
        return metadata, [f"{p}; recorded with the file's own metadata" for p in problems]
    try:
        out = reader.apply(metadata, contents)
        if not isinstance(out, Metadata):
            raise TypeError(f"the sidecar reader gave {type(out).__name__}, not Metadata")
    except Exception as e:  # noqa: BLE001 - a bad sidecar (or a reader's bug) must not cost the photo its record
        shown = ", ".join(os.fsdecode(n) for n in names)
        return metadata, [f"{reader.label} sidecar {shown} could not be read ({e}); recorded with the file's own "
                          "metadata"]
    return out, []
