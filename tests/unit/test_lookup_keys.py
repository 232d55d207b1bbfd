"""The index's lookup keys are the keys resolve looks candidates up by: a photo whose keys
differ between the two is never found as a look-alike.  One definition (photosync/media/lookup.py,
below the library and conflicts/ alike) serves both; these tests hold the index's rows to it."""

from __future__ import annotations

import dataclasses
import random

import pytest

from photosync.conflicts import variants
from photosync.library.index import Index
from photosync.media import lookup
from photosync.media.visual import Look, quarters, signature_of_image
from photosync.model import Instance, Metadata, Photo, Visibility

NOW = "2024-01-01T00:00:00+00:00"


def _look(seed: int, flat: bool = False) -> str:
    from variant_corpus import scene

    from PIL import Image

    if flat:
        return signature_of_image(Image.new("RGB", (64, 48), (40, 40, 40)))
    return signature_of_image(scene(random.Random(seed), (96, 72))[0])


def _inst(service, item, h, look, taken=None, source=None, missing=False):
    return Instance(service=service, id=item, content_hash=h, last_sync=NOW, look=look,
                    metadata=Metadata(taken_date=taken, taken_date_source=source, filename=item),
                    missing_since=NOW if missing else None)


def _photo(*insts, canonical=0):
    first = insts[canonical]
    by_service: dict[str, list[Instance]] = {}
    for i in insts:
        by_service.setdefault(i.service, []).append(i)
    return Photo(photo_id="00000000-0000-5000-8000-000000000001", content_hash=first.content_hash,
                 canonical_source=first.key, metadata=first.metadata, created_at=NOW, updated_at=NOW,
                 instances={k: tuple(v) for k, v in by_service.items()}, visibility=Visibility("private"))


H1, H2, H3 = ("sha256:" + c * 64 for c in "123")


def cases():
    a, b, c = _look(1), _look(2), _look(3)
    flat = _look(0, flat=True)
    return {
        "one picture, trusted time": _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif")),
        "a guessed time is no key": _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00", "file_mtime")),
        "a merged variant, canonical first": _photo(_inst("pics", "b.jpg", H2, b, "2020-01-01T00:00:00", "service"),
                                                    _inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00", "exif"),
                                                    canonical=1),
        "a copy without a signature, then one with": _photo(_inst("alpha", "a.jpg", H1, None),
                                                            _inst("beta", "a.jpg", H1, a)),
        "two copies of one content count once": _photo(_inst("pics", "a.jpg", H1, a), _inst("phone", "a.jpg", H1, c)),
        "a missing copy is not looked up": _photo(_inst("pics", "a.jpg", H1, a),
                                                  _inst("pics", "c.jpg", H3, c, missing=True)),
        "a flat picture has no key": _photo(_inst("pics", "a.jpg", H1, flat), _inst("pics", "b.jpg", H2, b)),
        "no signature at all": _photo(_inst("pics", "a.mov", H1, None)),
    }


def test_variants_judges_with_the_one_definition():
    """conflicts/variants.py searches with the functions the index fills its looks table with
    (a second copy of them would drift, and look-alikes would silently not be found)."""
    assert variants.lookup_keys is lookup.lookup_keys
    assert variants.faces is lookup.faces
    assert variants.TRUSTED_TIME is lookup.TRUSTED_TIME


@pytest.mark.parametrize("name", list(cases()))
def test_the_index_keeps_the_keys_resolve_looks_up(name, tmp_path):
    photo = cases()[name]
    index = Index(tmp_path / "index.db")
    index.put_photos([(photo, "photos/p.json", None)])
    keys = variants.lookup_keys(photo, every_picture=True)
    assert sorted(index.own_looks(photo.photo_id)) == sorted((k.content_hash, k.dhash, k.informative) for k in keys)
    index.close()


def test_a_look_alike_is_found_by_the_keys_of_the_other(tmp_path):
    a = _look(1)
    mine = _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif"))
    other = dataclasses.replace(_photo(_inst("web", "a-small.jpg", H2, a)),
                                photo_id="00000000-0000-5000-8000-000000000002")
    index = Index(tmp_path / "index.db")
    index.put_photos([(mine, "photos/a.json", None), (other, "photos/b.json", None)])
    (key,) = variants.lookup_keys(mine)
    found = index.look_alikes(mine.photo_id, key, key.quarters, key.taken, variants.MAX_HAMMING)
    assert [(pid, h) for pid, h, *_ in found] == [(other.photo_id, H2)]
    index.close()


def test_the_keys_are_quarters_and_the_trusted_second():
    a = _look(1)
    photo = _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif"))
    qs = tuple(None if q in (0, 0xFFFF) else q for q in quarters(Look.parse(a).dhash64()))
    assert [(k.quarters, k.taken) for k in lookup.lookup_keys(photo)] == [(qs, "2019-07-04T10:00:00")]
