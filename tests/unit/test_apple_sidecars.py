"""osxphotos' sidecars read into what a record says (photosync/connectors/apple/sidecars.py): the
forms osxphotos writes (exifwriter.exiftool_dict, templates/xmp_sidecar.mako, PhotoInfo JSON)."""

from __future__ import annotations

import json

import pytest

from photosync.connectors.apple.sidecars import OsxphotosSidecars, json_facts, xmp_facts
from photosync.model import Metadata


def test_exiftool_json_with_and_without_groups_says_the_same():
    d = {"XMP:Title": "Lake", "XMP:Description": "Evening swim", "XMP:TagsList": ["lake", "summer"],
         "XMP:Subject": ["lake", "summer", "Ana"], "XMP:PersonInImage": ["Ana", "_UNKNOWN_"],
         "EXIF:GPSLatitude": 33.5, "EXIF:GPSLatitudeRef": "S", "EXIF:GPSLongitude": 70.25,
         "EXIF:GPSLongitudeRef": "W", "EXIF:DateTimeOriginal": "2020:10:30 18:05:00",
         "EXIF:OffsetTimeOriginal": "-04:00", "XMP:Rating": 5}
    grouped = json_facts(json.dumps([d]).encode())
    plain = json_facts(json.dumps([{k.split(":")[1]: v for k, v in d.items()}]).encode())
    assert grouped == plain
    assert grouped["title"] == "Lake" and grouped["description"] == "Evening swim"
    assert grouped["keywords"] == ["lake", "summer"] and grouped["persons"] == ["Ana"]
    assert grouped["location"] == (-33.5, -70.25)
    assert grouped["date"] == "2020-10-30T18:05:00-04:00"
    assert grouped["favorite"] is True


def test_a_video_sidecar_gives_its_quicktime_date_and_place():
    facts = json_facts(json.dumps([{"QuickTime:CreationDate": "2020:12:10 22:10:10-08:00",
                                    "Keys:GPSCoordinates": "47.1 -122.3"}]).encode())
    assert facts["date"] == "2020-12-10T22:10:10-08:00"
    assert facts["location"] == (47.1, -122.3)


def test_xmp_sidecar_in_osxphotos_template_form():
    xmp = b"""<!-- Created with osxphotos https://github.com/RhetTbull/osxphotos -->
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>Caf\xc3\xa9</rdf:li></rdf:Alt></dc:title>
<dc:description><rdf:Alt><rdf:li xml:lang='x-default'/></rdf:Alt></dc:description>
<dc:subject><rdf:Bag><rdf:li>coffee</rdf:li><rdf:li>Ben</rdf:li></rdf:Bag></dc:subject>
<photoshop:DateCreated>2019-04-01T08:30:00+01:00</photoshop:DateCreated></rdf:Description>
<rdf:Description rdf:about="" xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'>
<Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Ben</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description>
<rdf:Description rdf:about="" xmlns:exif='http://ns.adobe.com/exif/1.0/'>
<exif:GPSLongitude>2,21.0W</exif:GPSLongitude><exif:GPSLatitude>48,51.3N</exif:GPSLatitude></rdf:Description>
</rdf:RDF></x:xmpmeta>"""
    facts = xmp_facts(xmp)
    assert facts["title"] == "Café" and "description" not in facts
    assert facts["keywords"] == ["coffee"] and facts["persons"] == ["Ben"]   # dc:subject less the persons
    assert facts["location"] == (pytest.approx(48.855), pytest.approx(-2.35))
    assert facts["date"] == "2019-04-01T08:30:00+01:00"


def test_photoinfo_json_gives_albums_in_their_folders_and_the_hidden_flag():
    facts = json_facts(json.dumps({"uuid": "A1", "albums": ["Alps", "Best"], "folders": {"Alps": ["Trips", "2021"]},
                                   "favorite": False, "hidden": True, "persons": ["_UNKNOWN_"],
                                   "latitude": None, "longitude": None}).encode())
    assert facts["albums"] == ["Trips/2021/Alps", "Best"]
    assert facts["hidden"] is True and facts["favorite"] is False
    assert "persons" not in facts and "location" not in facts
    md = OsxphotosSidecars().apply(Metadata(), {"x.jpeg.json": json.dumps({"hidden": True, "title": "T",
                                                                           "description": "D"}).encode()})
    assert md.archived is True and md.caption == "T\n\nD"


@pytest.mark.parametrize("data", [b'[{"XMP:Title": "cut', b'{"a": 1', b'"text"', b"[1, 2]"])
def test_a_malformed_json_sidecar_is_refused_naming_it(data):
    with pytest.raises(ValueError, match="IMG_9.jpeg.json"):
        json_facts(data, "IMG_9.jpeg.json")


def test_sidecar_names_follow_osxphotos():
    r = OsxphotosSidecars()
    names = {"IMG_1.heic", "IMG_1.heic.json", "IMG_1.heic.xmp", "IMG_1.mov", "IMG_1.xmp", "IMG_2.jpeg", "IMG_2.xmp",
             "IMG_2.jpeg.json"}
    # IMG_1.xmp (--sidecar-drop-ext) is the still's, not its live video's
    assert r.sidecars("IMG_1.heic", names - {"IMG_1.heic"}) == ("IMG_1.heic.xmp", "IMG_1.xmp", "IMG_1.heic.json")
    assert r.sidecars("IMG_1.mov", names - {"IMG_1.mov"}) == ()
    # two photos with one stem (IMG_3.heic and IMG_3.jpeg): IMG_3.xmp could be either's, neither takes it
    assert r.sidecars("IMG_3.heic", {"IMG_3.jpeg", "IMG_3.xmp"}) == ()
    assert r.sidecars("IMG_2.jpeg", names - {"IMG_2.jpeg"}) == ("IMG_2.xmp", "IMG_2.jpeg.json")
