"""Quality and edit variants, end to end: real JPEG files in folders, the real
photosync command, the records in git."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from helpers import add_local_service, git, open_lib
from variant_corpus import FOLDERS, evaluate, exif_bytes, generate, jpeg, scene


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def _record_of(lib: Path, service: str, name: str) -> dict:
    hits = [r for r in _records(lib) if any(i["id"] == name for i in r["instances"].get(service, []))]
    assert len(hits) == 1, f"{service}/{name} is in {len(hits)} records"
    return hits[0]


def _discover_and_resolve(cli, library: Path, auto: str = "all") -> None:
    cli("discover", "--library", str(library), check=0)
    cli("resolve", "--auto-resolve", auto, "--library", str(library), check=0)


def _photo(seed: int, size=(800, 600), when=datetime(2019, 7, 4, 12, 30, 15, 250000), caption=None):
    import random

    im, _, _ = scene(random.Random(seed), size)
    return im, exif_bytes(when, ("Canon", "EOS 80D"), caption)


@pytest.fixture
def corpus_library(tmp_path, library, cli):
    root = tmp_path / "corpus"
    generate(root, photos=14, seed=7)
    for f in FOLDERS:
        add_local_service(library, f, root / f)
    cli("discover", "--library", str(library), check=0)
    return root, library


def test_a_mixed_library_is_sorted_with_no_wrong_merge(corpus_library, cli):
    root, library = corpus_library
    r = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    assert "merged into another record" in r.out
    found = evaluate(root, library)
    assert found["unrecorded"] == 0
    assert found["wrong_merges"] == 0, found["wrong_merge_pairs"]
    assert found["false_links"] == 0
    assert found["merge_recall"] >= 0.95, found["missed_merges"]
    assert found["link_recall"] is None or found["link_recall"] >= 0.9, found["missed_links"]
    # every resized, thumbnail and re-encoded copy sits in its original's record, rated against it
    labels = json.loads((root / "labels.json").read_text())
    rated = {"resized": "medium", "thumbnail": "low", "reencoded": "high"}
    seen = set()
    for rel, label in labels.items():
        if label["kind"] not in rated:
            continue
        folder, name = rel.split("/", 1)
        rec = _record_of(library, folder, name)
        inst = next(i for i in rec["instances"][folder] if i["id"] == name)
        assert inst["quality"] == rated[label["kind"]], (rel, inst["quality"])
        assert rec["canonical_source"].endswith(".JPG"), rec["canonical_source"]  # the camera's file
        seen.add(label["kind"])
    assert seen, "the corpus should hold resized copies"
    # the merge is in git's history, with the policy that made it
    assert "variant records merged" in git(library, "log", "--format=%s")
    merged = [r for r in _records(library) if any(x.get("policy") == "quality_variants"
                                                   for x in r.get("resolutions", []))]
    assert merged
    # a second run has nothing left to merge and commits nothing new
    head = git(library, "rev-parse", "HEAD")
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    assert git(library, "rev-parse", "HEAD") == head


def test_without_the_policy_quality_variants_are_asked_not_merged(corpus_library, cli):
    root, library = corpus_library
    before = len(_records(library))
    r = cli("resolve", "--auto-resolve", "simple", "--library", str(library), check=0)
    assert len(_records(library)) == before  # nothing merged
    conflicts = [c for rec in _records(library) for c in rec["conflicts"] if c["type"] == "quality_variant"]
    assert conflicts and all(c["resolution_required"] and c["related_photos"] for c in conflicts)
    assert "the same picture at another size or compression" in r.out
    # linked both ways
    by_id = {rec["photo_id"]: rec for rec in _records(library)}
    for rec in by_id.values():
        for c in rec["conflicts"]:
            if c["type"] == "quality_variant":
                other = by_id[c["related_photos"][0]]
                assert any(rec["photo_id"] in oc.get("related_photos", []) for oc in other["conflicts"])


def test_dry_run_tells_what_would_merge_and_changes_nothing(corpus_library, cli):
    root, library = corpus_library
    head = git(library, "rev-parse", "HEAD")
    r = cli("resolve", "--auto-resolve", "all", "--dry-run", "--library", str(library), check=0)
    assert "would merge with" in r.out
    assert git(library, "rev-parse", "HEAD") == head
    assert git(library, "status", "--porcelain") == ""


def test_black_frames_and_bursts_are_never_merged(tmp_path, library, cli, photos):
    from PIL import Image

    folder = photos("camera")
    when = datetime(2020, 1, 2, 3, 4, 5, 100000)
    for n in range(3):  # lens-cap shots: nothing to tell them apart by
        im = Image.new("RGB", (640, 480), (n, n, n))
        (folder / f"black_{n}.jpg").write_bytes(jpeg(im, 90, exif_bytes(when.replace(second=n), None, None)))
    im, exif = _photo(3, when=when)
    (folder / "burst_1.jpg").write_bytes(jpeg(im, 92, exif))
    frame = im.transform(im.size, Image.Transform.AFFINE, (1, 0, 12, 0, 1, 0))  # the camera moved a little
    (folder / "burst_2.jpg").write_bytes(jpeg(frame, 92, exif_bytes(when.replace(microsecond=350000),
                                                                    ("Canon", "EOS 80D"), None)))
    add_local_service(library, "camera", folder)
    _discover_and_resolve(cli, library)
    assert len(_records(library)) == 5


def test_a_crop_is_linked_and_a_person_settles_it_from_a_pipe(tmp_path, library, cli, photos):
    folder = photos("pictures")
    im, exif = _photo(11)
    (folder / "IMG_2001.jpg").write_bytes(jpeg(im, 92, exif))
    w, h = im.size
    (folder / "IMG_2001_crop.jpg").write_bytes(jpeg(im.crop((w // 8, h // 8, w - w // 8, h - h // 8)), 90, exif))
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)
    recs = _records(library)
    assert len(recs) == 2  # never merged
    for rec in recs:
        (c,) = [c for c in rec["conflicts"] if c["type"] == "edit_variant"]
        assert c["resolution_required"]
        assert c["related_photos"] == [next(r["photo_id"] for r in recs if r is not rec)]
    # the person answers "1" (keep both, linked) through a pipe
    p = subprocess.run([sys.executable, "-m", "photosync", "resolve", "--interactive", "--library", str(library)],
                       input="1\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "A:" in p.stdout and "B:" in p.stdout  # both photos shown
    assert "Keep both, linked as edits of one photo" in p.stdout
    log = git(library, "log", "--format=%s")
    assert "linked as an edit of" in log.splitlines()[0] or "linked as an edit of" in log
    recs = _records(library)
    assert all(not [c for c in r["conflicts"] if c["type"] == "edit_variant"] for r in recs)
    assert all(any(x["choice"] == "linked" and x["how"] == "manual" for x in r["resolutions"]) for r in recs)
    assert all(r["processing_state"] == "resolved" for r in recs)
    # nothing is asked again
    p = subprocess.run([sys.executable, "-m", "photosync", "resolve", "--interactive", "--library", str(library)],
                       input="", capture_output=True, text=True, timeout=120)
    assert "conflict 1" not in p.stdout


def test_a_person_can_merge_an_edit_variant_and_keeps_every_copy(tmp_path, library, cli, photos):
    from PIL import Image

    folder = photos("pictures")
    im, exif = _photo(12)
    (folder / "IMG_3001.jpg").write_bytes(jpeg(im, 92, exif))
    (folder / "IMG_3001_rot.jpg").write_bytes(jpeg(im.transpose(Image.Transpose.ROTATE_90), 90, exif))
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)
    recs = _records(library)
    assert len(recs) == 2
    assert any("turned 90 degrees" in c["description"] for r in recs for c in r["conflicts"])
    p = subprocess.run([sys.executable, "-m", "photosync", "resolve", "--interactive", "--library", str(library)],
                       input="3\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    (rec,) = _records(library)
    ids = sorted(i["id"] for i in rec["instances"]["pictures"])
    assert ids == ["IMG_3001.jpg", "IMG_3001_rot.jpg"]
    assert any("merged with" in line and line.endswith("(manual)")
               for line in git(library, "log", "--format=%s").splitlines())


def test_a_better_copy_found_later_becomes_canonical_and_old_blobs_are_kept(tmp_path, library, cli, photos):
    from PIL import Image

    im, exif = _photo(21)
    small_dir, orig_dir = photos("phone"), photos("camera")
    (small_dir / "small.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 80, exif))
    add_local_service(library, "phone", small_dir)
    for args in (["discover"], ["resolve", "--auto-resolve", "all"], ["replicate", "--execute"]):
        cli(*args, "--library", str(library), check=0)
    (first,) = _records(library)
    assert first["blobs"]
    old_blob = next(iter(first["blobs"].values()))
    (orig_dir / "IMG_9.jpg").write_bytes(jpeg(im, 95, exif))
    add_local_service(library, "camera", orig_dir)
    _discover_and_resolve(cli, library)
    (rec,) = _records(library)
    assert rec["canonical_source"] == "camera:IMG_9.jpg"
    assert rec["instances"]["phone"][0]["quality"] == "medium"
    assert rec["blobs"] == {}  # the new original is not copied yet
    (kept,) = rec["superseded_blobs"]
    assert kept["locator"] == old_blob["locator"] and kept["content_hash"] == first["content_hash"]
    cli("replicate", "--execute", "--library", str(library), check=0)
    (rec,) = _records(library)
    assert rec["blobs"] and rec["processing_state"] == "replicated"
    old_file = library / "blobs" / old_blob["locator"]
    assert old_file.is_file()  # never deleted
    assert cli("audit", "--blobs", "--library", str(library)).code == 0  # both copies check out
    old_file.unlink()  # the set-aside copy is lost: the audit sees it
    run = cli("audit", "--blobs", "--library", str(library))
    assert run.code != 0 and old_blob["locator"] in run.err + run.out
    (rec,) = _records(library)
    assert rec["superseded_blobs"][0]["problem"] and not rec["blobs"]["local"].get("problem")


def test_policy_violations_are_reported_not_fixed():
    from photosync.conflicts.detect import policy_violations
    from photosync.connectors.flickr import FlickrConnector
    from photosync.model import Instance, Metadata, Photo, Visibility

    def photo(fmt, size, kind="photo"):
        inst = Instance("nas", "a." + fmt, "sha256:" + "1" * 64, size=size,
                        metadata=Metadata(format=fmt, media_type=kind), last_sync="2026-01-01T00:00:00Z")
        return Photo("0" * 8 + "-0000-0000-0000-" + "0" * 12, inst.content_hash, inst.key, Metadata(),
                     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", instances={"nas": (inst,)},
                     visibility=Visibility("private"))

    targets = {"flickr": (FlickrConnector.capabilities, ["nas"])}
    assert policy_violations(photo("jpeg", 5_000_000), targets) == []
    (c,) = policy_violations(photo("jpeg", 300 * 2**20), targets)
    assert c.type == "service_policy_violation" and "over its 200 MiB limit" in c.description
    assert not c.resolution_required
    (c,) = policy_violations(photo("cr3", 30_000_000), targets)
    assert "does not accept CR3" in c.description
    assert policy_violations(photo("mp4", 900 * 2**20, "video"), targets) == []
    assert policy_violations(photo("jpeg", 300 * 2**20), {"flickr": (FlickrConnector.capabilities, ["other"])}) == []


def test_signatures_see_rotation_and_ignore_recompression():
    from PIL import Image

    from photosync.media.visual import Look, best_rotation, gradient_distance, signature_of, tone_distance

    im, exif = _photo(31)
    a = Look.parse(signature_of(jpeg(im, 95, exif)))
    small = Look.parse(signature_of(jpeg(im.resize((200, 150)), 50, None)))
    turned = Look.parse(signature_of(jpeg(im.transpose(Image.Transpose.ROTATE_270), 90, None)))
    other = Look.parse(signature_of(jpeg(_photo(32)[0], 95, None)))
    assert gradient_distance(a, small) < 0.04 and tone_distance(a, small) <= 6
    assert gradient_distance(a, turned) > 0.2 and best_rotation(a, turned)[1] < 0.04
    assert gradient_distance(a, other) > 0.2
    # EXIF orientation is applied: a file that says "turn me" looks like the turned picture
    buf = io.BytesIO()
    exif_obj = Image.Exif()
    exif_obj[0x0112] = 6
    im.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif_obj.tobytes())
    assert gradient_distance(a, Look.parse(signature_of(buf.getvalue()))) < 0.04


class Scripted:
    """A resolver answering by conflict type (the scripted resolver of the Resolver seam)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.asked: list[str] = []

    def decide(self, photo, conflict, options):
        from photosync.conflicts.resolver import Decision

        self.asked.append(conflict.id)
        key = self.answers.get(conflict.type)
        if key == "merge":  # the first merge offered: the better picture stays the original
            key = next((o.key for o in options if o.key.startswith("merge")), None)
        return Decision(key) if key and any(o.key == key for o in options) else None


def _names(rec: dict) -> set[str]:
    return {i["id"] for insts in rec["instances"].values() for i in insts}


@pytest.mark.parametrize("seed", [4, 41])  # A and B first asked as a quality question (4), as an edit (41)
def test_a_persons_unrelated_answer_outlives_later_merges(tmp_path, library, cli, photos, seed):
    from PIL import Image

    from photosync.phases.resolve import resolve

    folder = photos("pictures")
    im, exif = _photo(seed)
    (folder / "A.jpg").write_bytes(jpeg(im, 92, exif))
    (folder / "B_bright.jpg").write_bytes(jpeg(im.point(lambda v: min(255, v + 10)), 92, exif))
    small = im.point(lambda v: min(255, v + 5)).resize((400, 300), Image.Resampling.LANCZOS)
    (folder / "C_small.jpg").write_bytes(jpeg(small, 85, exif))
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)

    class Person:
        """C is a smaller copy of B; A and B are different photos (said only when ``sure``)."""

        def __init__(self, lib, sure):
            self.lib, self.sure, self.asked = lib, sure, []

        def decide(self, photo, conflict, options):
            from photosync.conflicts.resolver import Decision

            other = self.lib.get_photo(conflict.related_photos[0])
            pair = {photo.metadata.filename, other.metadata.filename}
            self.asked.append(tuple(sorted(pair)))
            if pair == {"A.jpg", "B_bright.jpg"} and self.sure:
                return Decision("unrelated") if conflict.type == "edit_variant" else Decision("separate")
            if pair == {"B_bright.jpg", "C_small.jpg"}:
                return Decision("merge")
            return None

    def session(sure: bool, auto=None) -> list:
        lib, _ = open_lib(library)
        try:
            person = Person(lib, sure)
            resolve(lib, auto=auto, resolver=person)
            assert len(person.asked) == len(set(person.asked)), person.asked  # nothing asked twice
            return person.asked
        finally:
            lib.close()

    def a_and_b_apart() -> bool:
        return not any({"A.jpg", "B_bright.jpg"} <= _names(r) for r in _records(library))

    session(sure=False)  # C merged into B; A and B left open
    for _ in range(2):  # B's record now holds C, which looks like A: still no merge of A and B
        cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
        assert a_and_b_apart(), [sorted(_names(r)) for r in _records(library)]
    assert ("A.jpg", "B_bright.jpg") in session(sure=True)  # now the person says they differ
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    assert a_and_b_apart()
    assert ("A.jpg", "B_bright.jpg") not in session(sure=True, auto="all")  # and is not asked again


def test_a_file_saved_again_in_place_loses_no_copy(tmp_path, library, cli, photos):
    pics, backup = photos("pics"), photos("backup")
    im, exif = _photo(42)
    data = jpeg(im, 92, exif)
    (pics / "IMG.jpg").write_bytes(data)
    (backup / "IMG.jpg").write_bytes(data)
    add_local_service(library, "pics", pics)
    add_local_service(library, "backup", backup)
    cli("discover", "--library", str(library), check=0)
    (pics / "IMG.jpg").write_bytes(jpeg(im, 92, exif_bytes(datetime(2019, 7, 4, 12, 30, 15, 250000),
                                                          ("Canon", "EOS 80D"), "now with a caption")))
    for _ in range(2):
        cli("discover", "--library", str(library), check=0)
        cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    recs = _records(library)
    insts = [(svc, i["id"], i["content_hash"], i.get("missing_since") is None)
             for r in recs for svc, xs in r["instances"].items() for i in xs]
    assert ("backup", "IMG.jpg", "sha256:" + __import__("hashlib").sha256(data).hexdigest(), True) in insts
    present_pics = [x for x in insts if x[0] == "pics" and x[3]]
    assert len(present_pics) == 1
    for r in recs:  # every record's original is one of its own copies with those bytes
        key = r["canonical_source"]
        svc, item = key.split(":", 1)
        assert any(i["id"] == item and i["content_hash"] == r["content_hash"] for i in r["instances"][svc])


def test_linked_edits_resolve_again_without_a_commit(tmp_path, library, cli, photos):
    from PIL import Image

    folder = photos("pictures")
    im, exif = _photo(43)
    w, h = im.size
    (folder / "IMG_1.jpg").write_bytes(jpeg(im, 92, exif))
    (folder / "IMG_1_crop.jpg").write_bytes(jpeg(im.crop((w // 10, h // 10, w - w // 10, h - h // 10)), 90, exif))
    (folder / "IMG_1_rot.jpg").write_bytes(jpeg(im.transpose(Image.Transpose.ROTATE_90), 90, exif))
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)
    links = {r["photo_id"]: {c["related_photos"][0] for c in r["conflicts"] if c["type"] == "edit_variant"}
             for r in _records(library)}
    # a star: the best picture is linked to the two others, the two edits not to each other
    assert sorted(len(v) for v in links.values()) == [1, 1, 2], links
    assert all(a in links[b] for a, bs in links.items() for b in bs)  # both ways
    head = git(library, "rev-parse", "HEAD")
    for _ in range(3):
        cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
        assert git(library, "rev-parse", "HEAD") == head


def test_the_camera_file_stays_the_original_over_an_export(tmp_path, library, cli, photos):
    folder = photos("pictures")
    im, exif = _photo(44)
    (folder / "IMG_7.JPG").write_bytes(jpeg(im, 85, exif))
    im.save(folder / "export.png")  # same pixels, more bytes, no EXIF
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)
    (rec,) = _records(library)
    assert rec["canonical_source"] == "pictures:IMG_7.JPG"


def test_a_dateless_thumbnail_does_not_join_a_burst_frame_to_its_neighbour(tmp_path, library, cli, photos):
    import random

    from PIL import Image

    camera, downloads = photos("camera"), photos("downloads")
    when = datetime(2016, 7, 6, 4, 2, 21, 742000)
    im, shapes, sky = scene(random.Random(17), (800, 600))
    moved = [(k, x0 + 0.01, y0, x1 + 0.01, y1, c) for (k, x0, y0, x1, y1, c) in shapes]  # the camera moved a hair
    frame, _, _ = scene(random.Random(99), (800, 600), moved, sky)
    (camera / "IMG_1.JPG").write_bytes(jpeg(im, 92, exif_bytes(when, ("Canon", "EOS 80D"), None)))
    (camera / "IMG_2.JPG").write_bytes(jpeg(frame, 92, exif_bytes(when.replace(microsecond=862000),
                                                                 ("Canon", "EOS 80D"), None)))
    (downloads / "1_download.jpg").write_bytes(jpeg(im.resize((320, 240), Image.Resampling.LANCZOS), 75, None))
    for name, folder in (("camera", camera), ("downloads", downloads)):
        add_local_service(library, name, folder)
    cli("discover", "--library", str(library), check=0)
    for _ in range(2):
        cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    groups = [_names(r) for r in _records(library)]
    assert not any({"IMG_1.JPG", "IMG_2.JPG"} <= g for g in groups), groups
    assert not any({"IMG_2.JPG", "1_download.jpg"} <= g for g in groups), groups


def test_separate_stands_after_both_photos_are_merged_into_better_copies(tmp_path, library, cli, photos):
    from PIL import Image

    from photosync.phases.resolve import resolve

    a, b, c = photos("a"), photos("b"), photos("c")
    im, exif = _photo(43)
    (a / "X_thumb.jpg").write_bytes(jpeg(im.resize((320, 240), Image.Resampling.LANCZOS), 75, None))
    (b / "Y_small.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif))
    for name, folder in (("a", a), ("b", b), ("c", c)):
        add_local_service(library, name, folder)
    cli("discover", "--library", str(library), check=0)
    cli("resolve", "--auto-resolve", "simple", "--library", str(library), check=0)  # a question, not a merge
    lib, _ = open_lib(library)
    try:
        resolve(lib, resolver=Scripted({"quality_variant": "separate"}))  # the person: two photos
    finally:
        lib.close()
    (c / "IMG_Y.jpg").write_bytes(jpeg(im, 92, exif))  # Y's original arrives
    _discover_and_resolve(cli, library)
    (a / "X_full.jpg").write_bytes(jpeg(im, 70, None))  # and a full-size download of X
    _discover_and_resolve(cli, library)
    groups = [_names(r) for r in _records(library)]
    assert not any({"X_thumb.jpg", "Y_small.jpg"} <= g for g in groups), groups


def test_a_bigger_copy_without_exif_is_the_original_over_a_small_one_with_it(tmp_path, library, cli, photos):
    from PIL import Image

    folder = photos("pictures")
    im, exif = _photo(45)
    (folder / "IMG_7_small.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif))
    (folder / "IMG_7.jpg").write_bytes(jpeg(im, 92, None))
    add_local_service(library, "pictures", folder)
    _discover_and_resolve(cli, library)
    (rec,) = _records(library)
    assert rec["canonical_source"] == "pictures:IMG_7.jpg"


def test_open_conflicts_are_listed_once(corpus_library, cli):
    root, library = corpus_library
    r = cli("resolve", "--auto-resolve", "simple", "--library", str(library), check=0)
    questions = set()  # a pair's question is held by both records: one question
    for rec in _records(library):
        for c in rec["conflicts"]:
            if c["resolution_required"]:
                related = c.get("related_photos") or []
                questions.add(frozenset((rec["photo_id"], *related)) if related else (rec["photo_id"], c["id"]))
    assert f"{len(questions)} conflicts need a decision" in r.out
    listed = [line for line in r.out.splitlines() if line.startswith("  ") and "(" in line]
    assert len(listed) == len(set(listed))


def test_resolve_with_and_without_policies_do_not_undo_each_other(tmp_path, library, cli, photos):
    # a photo with an exact copy and an open question (its crop) stays "discovered" between runs
    pics, backup = photos("pics"), photos("backup")
    im, exif = _photo(46)
    w, h = im.size
    data = jpeg(im, 92, exif)
    (pics / "IMG_5.jpg").write_bytes(data)
    (backup / "copy of IMG_5.jpg").write_bytes(data)
    (pics / "IMG_5_crop.jpg").write_bytes(jpeg(im.crop((w // 10, h // 10, w - w // 10, h - h // 10)), 90, exif))
    add_local_service(library, "pics", pics)
    add_local_service(library, "backup", backup)
    _discover_and_resolve(cli, library)
    head = git(library, "rev-parse", "HEAD")
    for args in ([], ["--auto-resolve", "simple"], ["--auto-resolve", "all"], [], ["--auto-resolve", "simple"]):
        cli("resolve", *args, "--library", str(library), check=0)
        assert git(library, "rev-parse", "HEAD") == head, f"resolve {' '.join(args)} committed again"


def test_dry_run_counts_what_the_real_run_then_does(corpus_library, cli):
    root, library = corpus_library
    dry = cli("resolve", "--auto-resolve", "all", "--dry-run", "--library", str(library), check=0).out
    real = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0).out
    import re as _re

    would, merging = _re.search(r"(\d+) of \d+ photos would change, (\d+) would merge", dry).groups()
    changed, merged = _re.search(r"(\d+) changed, (\d+) merged into another record", real).groups()
    assert (would, merging) == (changed, merged)


def test_lookalikes_with_guessed_dates_are_asked_never_merged(tmp_path, library, cli):
    # different photos of one composition that look alike at 16x16, dated by file names and file
    # times years apart (scans, chat copies), beside true copies whose guessed dates agree
    from variant_corpus import generate_lookalikes

    root = tmp_path / "lookalikes"
    generate_lookalikes(root, photos=40, seed=3)
    for f in FOLDERS:
        add_local_service(library, f, root / f)
    _discover_and_resolve(cli, library)
    found = evaluate(root, library)
    assert found["unrecorded"] == 0
    assert found["wrong_merges"] == 0, found["wrong_merge_pairs"]
    assert found["merge_correct"] > 0  # copies whose guessed date is the capture day still merge
    assert found["false_links"] > 0  # the look-alikes are asked about instead


def _set_time(path: Path, when: datetime) -> None:
    import os

    os.utime(path, (when.timestamp(), when.timestamp()))


def test_a_guessed_date_years_from_the_photos_date_is_a_question(tmp_path, library, cli, photos):
    from PIL import Image

    camera, scans, chats = photos("camera"), photos("scans"), photos("chats")
    im, _ = _photo(51)
    (camera / "IMG_0280.JPG").write_bytes(jpeg(im, 92, exif_bytes(datetime(2023, 5, 6, 10, 0, 0, 120000),
                                                                 ("Canon", "EOS 80D"), None)))
    (scans / "scan 2.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, None))
    _set_time(scans / "scan 2.jpg", datetime(2005, 3, 1, 12, 0))  # file time 18 years before
    other, _ = _photo(52)
    (camera / "IMG_0100.JPG").write_bytes(jpeg(other, 92, exif_bytes(datetime(2015, 8, 1, 9, 0, 0, 300000),
                                                                    ("Canon", "EOS 80D"), None)))
    small = other.resize((400, 300), Image.Resampling.LANCZOS)
    (chats / "IMG-20190705-WA0001.jpg").write_bytes(jpeg(small, 70, None))  # a name 4 years later
    (chats / "IMG-20150801-WA0002.jpg").write_bytes(jpeg(small, 72, None))  # sent the day it was taken
    for name, folder in (("camera", camera), ("scans", scans), ("chats", chats)):
        add_local_service(library, name, folder)
    cli("discover", "--library", str(library), check=0)
    r = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    groups = [_names(rec) for rec in _records(library)]
    assert {"IMG_0100.JPG", "IMG-20150801-WA0002.jpg"} in groups  # the same day: merged
    assert not any("scan 2.jpg" in g and len(g) > 1 for g in groups), groups
    assert not any("IMG-20190705-WA0001.jpg" in g and len(g) > 1 for g in groups), groups
    asked = {c["description"] for rec in _records(library) for c in rec["conflicts"] if c["type"] == "quality_variant"}
    assert any("file time (2005-03-01) is 18 years from" in d for d in asked), asked
    assert any("file name (2019-07-05) is 4 years from" in d for d in asked), asked
    assert "file time (2005-03-01)" in r.out


def test_pictures_in_other_tones_are_asked_not_merged(tmp_path, library, cli, photos):
    # a print faded a few levels lighter, its file time the day the photo was taken: the same
    # gradients, the date agrees, but the tone says it may be another picture
    camera, scans = photos("camera"), photos("scans")
    when = datetime(2012, 9, 9, 15, 0, 0, 500000)
    im, exif = _photo(53, when=when)
    (camera / "IMG_5.JPG").write_bytes(jpeg(im, 92, exif))
    (scans / "print.jpg").write_bytes(jpeg(im.point(lambda v: min(255, v + 5)), 88, None))
    _set_time(scans / "print.jpg", when.replace(hour=18))
    for name, folder in (("camera", camera), ("scans", scans)):
        add_local_service(library, name, folder)
    _discover_and_resolve(cli, library)
    recs = _records(library)
    assert len(recs) == 2
    asked = [c for rec in recs for c in rec["conflicts"] if c["type"] == "quality_variant"]
    assert asked and all("tones differ" in c["description"] for c in asked)


def test_git_log_names_the_photos_each_merge_joined(tmp_path, cli, photos, corpus_library):
    from PIL import Image

    from photosync.library.library import Library

    # one merge in a run: the commit's subject names both photos
    one, _ = Library.init(tmp_path / "one")
    folder = photos("single")
    im, exif = _photo(54)
    (folder / "IMG_0001.JPG").write_bytes(jpeg(im, 92, exif))
    (folder / "IMG_5001.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif))
    add_local_service(one, "single", folder)
    _discover_and_resolve(cli, one)
    assert "resolve: merged IMG_5001.jpg into IMG_0001.JPG (quality variant)" in git(one, "log", "--format=%s")
    # many merges in one batch: the subject counts them, the body lists each, one line each
    root, big = corpus_library
    r = cli("resolve", "--auto-resolve", "all", "--library", str(big), check=0)
    merged = int(__import__("re").search(r"(\d+) merged into another record", r.out).group(1))
    assert merged > 1
    bodies = git(big, "log", "--format=%B", "--grep=^resolve:")
    lines = [line for line in bodies.splitlines() if line.startswith("- ") and " into " in line]
    assert len(lines) == merged, lines
    names = {rel.split("/", 1)[1] for rel in json.loads((root / "labels.json").read_text())}
    for line in lines:  # "- IMG_1000_small.jpg (1a2b3c4d) into IMG_1000.JPG (5e6f7a8b), quality variant"
        gone, into = line[2:].split(" into ")
        assert gone.rsplit(" (", 1)[0] in names and into.split(" (", 1)[0] in names, line


def test_status_and_resolve_count_the_same_questions(corpus_library, cli):
    import re as _re

    root, library = corpus_library
    r = cli("resolve", "--auto-resolve", "simple", "--library", str(library), check=0)
    asked = int(_re.search(r"(\d+) conflicts? needs? a decision", r.out).group(1))
    pairs = sum(1 for rec in _records(library) for c in rec["conflicts"]
                if c["resolution_required"] and c.get("related_photos"))
    assert pairs > 0  # variant questions: each held by both records of its pair
    status = cli("status", "--json", "--library", str(library), check=0).json
    assert status["conflicts"]["open"] == asked
    assert f"conflicts: {asked} open" in cli("status", "--library", str(library), check=0).out


class Recording:
    """A reporter that keeps what progress it was told (the Reporter seam)."""

    def __init__(self):
        self.problems, self.messages, self.tasks = [], [], []

    def problem(self, problem):
        self.problems.append(problem)

    def info(self, message):
        self.messages.append(message)

    def task(self, label, total=None, total_bytes=None):
        rec = {"label": label, "first_total": total, "total": total, "done": 0, "closed": False}
        self.tasks.append(rec)

        class Task:
            def advance(self, n=1, nbytes=0):
                rec["done"] += n

            def add_total(self, n=0, nbytes=0):
                rec["total"] = (rec["total"] or 0) + n

            def close(self):
                rec["closed"] = True

        return Task()


def test_resolve_progress_counts_every_examination(tmp_path, library, cli, photos):
    from PIL import Image, ImageEnhance

    from photosync.library.library import Library
    from photosync.phases.resolve import resolve

    # examined in date order: the colour edit (its name says 2010), then the original, which
    # merges the thumbnail (no date: examined last); the edit, linked to the original before the
    # merge, is examined again after it
    folder = photos("pictures")
    im, exif = _photo(70)
    (folder / "2010-01-01 edited.jpg").write_bytes(
        jpeg(ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.3)).enhance(0.4), 90, None))
    (folder / "IMG_70.jpg").write_bytes(jpeg(im, 92, exif))
    (folder / "thumb.jpg").write_bytes(jpeg(im.resize((320, 240), Image.Resampling.LANCZOS), 75, None))
    add_local_service(library, "pictures", folder)
    cli("discover", "--library", str(library), check=0)
    rec = Recording()
    lib = Library.open(library, write=True, reporter=rec)
    try:
        result = resolve(lib, auto="all")
    finally:
        lib.close()
    assert result.merged == 1
    (task,) = [t for t in rec.tasks if t["label"] == "Resolving"]
    # the bar's total grows by the records examined again (it does not sit at 100 % while they
    # are), and ends full
    assert task["total"] > task["first_total"], task
    assert task["closed"] and task["done"] == task["total"], task


def test_a_crowded_look_is_not_compared_with_all_who_share_it_and_never_merged(tmp_path, library, cli, photos):
    from PIL import Image

    from photosync.phases.resolve import resolve

    folder = photos("pictures")
    for n in range(3):
        im, exif = _photo(60 + n, when=datetime(2018, 5, n + 1, 9, 0, 0, 100000))
        (folder / f"IMG_{n}.jpg").write_bytes(jpeg(im, 92, exif))
        (folder / f"IMG_{n}_small.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif))
    add_local_service(library, "pictures", folder)
    cli("discover", "--library", str(library), check=0)
    head = git(library, "rev-parse", "HEAD").strip()
    lib, _ = open_lib(library)
    try:  # every key is shared by two pictures: with a cap of one, each is crowded
        result = resolve(lib, auto="all", crowded=1)
    finally:
        lib.close()
    # the first photo of each pair had nothing to resolve when discover recorded it; the copies (which
    # look like them) are examined by resolve: every one of those is crowded, none is merged
    assert result.crowded == result.examined >= 3 and result.merged == 0
    assert len(_records(library)) == 6  # left apart, the safe side
    git(library, "reset", "--hard", head)
    lib, _ = open_lib(library)
    try:
        assert resolve(lib, auto="all").merged == 3  # the same photos, nothing crowded
    finally:
        lib.close()


def test_an_index_of_the_old_layout_is_rebuilt_and_finds_variants(tmp_path, library, cli, photos):
    import sqlite3

    from PIL import Image

    folder = photos("pictures")
    im, exif = _photo(71)
    (folder / "IMG_71.jpg").write_bytes(jpeg(im, 92, exif))
    (folder / "IMG_71_small.jpg").write_bytes(jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif))
    add_local_service(library, "pictures", folder)
    cli("discover", "--library", str(library), check=0)
    # the index as photosync left it before the looks table kept whole dHashes (layout 9)
    db = sqlite3.connect(library / ".git" / "photosync" / "index.sqlite")
    db.execute("DROP TABLE looks")
    db.execute("CREATE TABLE looks(photo_id TEXT NOT NULL, q0 INTEGER, q1 INTEGER, q2 INTEGER, q3 INTEGER, taken TEXT)")
    db.execute("DROP TABLE IF EXISTS questions")
    db.execute("UPDATE meta SET value='9' WHERE key='version'")
    db.commit()
    db.close()
    r = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    assert "1 merged into another record" in r.out
    assert len(_records(library)) == 1
    db = sqlite3.connect(library / ".git" / "photosync" / "index.sqlite")
    columns = {row[1] for row in db.execute("PRAGMA table_info(looks)")}
    assert {"dhash", "informative"} <= columns
    db.close()


def test_a_first_import_learns_which_looks_are_crowded_as_it_records(tmp_path, library, photos, monkeypatch):
    """discover examines each new photo as it records it (one write per photo), against an index
    that the import itself fills: a look shared by more than CROWDED pictures recorded earlier in
    the same run is not expanded for the next photo. (Knowing only the keys crowded when the run
    began — none, in a first import — every photo was compared with all who shared its look: the
    first import of 100,000 near-alike pictures grew quadratic.)"""
    from photosync.library.library import Library
    from photosync.phases import resolve as resolve_phase
    from photosync.phases.discover import discover

    monkeypatch.setattr(resolve_phase, "CROWDED", 2)
    folder = photos("pictures")
    im, _ = _photo(80)
    for n in range(6):  # the same picture and second, six files (their captions differ)
        exif = exif_bytes(datetime(2019, 7, 4, 12, 30, 15, 250000), ("Canon", "EOS 80D"), f"copy {n}")
        (folder / f"IMG_{n}.jpg").write_bytes(jpeg(im, 90, exif))
    add_local_service(library, "pictures", folder)
    prefs_path = library / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["sync_preferences"]["commit_batch_size"] = 1  # the index learns each photo before the next
    prefs_path.write_text(json.dumps(prefs, indent=2) + "\n")
    git(library, "commit", "-qam", "batches of one")
    lib = Library.open(library, write=True)
    try:
        summary = discover(lib, workers=1).services[0]
    finally:
        lib.close()
    states = sorted(r["processing_state"] for r in _records(library))
    # the first photo had nothing like it; the next two were like it (left for resolve); from the
    # fourth on, its look and capture second were each shared by three recorded pictures: crowded
    assert summary.new == 6 and summary.crowded == 3, summary
    assert states == ["discovered"] * 2 + ["resolved"] * 4
