"""What a picture looks like, in 256 bytes: the visual signature used to find
quality and edit variants of one photo (a resized or re-encoded copy, a crop,
a rotation, an edit).

The signature is the picture, turned upright by its EXIF orientation, reduced
to a 16x16 grayscale thumbnail (8 bits a pixel), followed by the picture's mean
red, green and blue and its mean colourfulness (4 bytes: resizing and
re-encoding keep them, a colour filter or a black-and-white edit does not);
260 bytes, base64 in the record.  A signature computed from the small JPEG a
camera embeds in the EXIF (media/probe.py: 0.4 ms instead of 1.5 ms for 100 kB
and 28 ms for 12 megapixels) ends with one byte more, APPROXIMATE: it is near
the picture's but not the same (the thumbnail's coarser colour reads up to 4
levels less colourful, its gradients up to ~0.06 apart where copies measure
0.00), so it is only used to find candidates, with ``APPROX_DISTANCE`` more
room; before a pair is judged, resolve replaces it with the decoded picture's
(phases/pictures.py).  From it come:

* ``dhash64``: a 64-bit difference hash (dHash: is each pixel of a 9x8
  reduction brighter than its right neighbour).  It survives resizing, JPEG
  re-encoding, and brightness and contrast changes, and costs nothing to
  compare; the index keeps its four 16-bit quarters so candidates are found by
  equality (any two hashes within 3 bits share a quarter), never by comparing
  every pair.
* ``gradient_distance``: the same difference test over the whole 16x16
  thumbnail in both directions (480 bits), as the fraction of bits that
  differ.  Finer than dhash64, it separates a re-encoded copy (a few percent)
  from a burst frame or a crop (much more).
* rotations: a thumbnail can be turned, so a copy rotated by 90, 180 or 270
  degrees is recognised without reading either file again.

Why dHash rather than pHash: on thumbnails this small both find resized and
re-encoded copies equally well (the corpus in bench/variants.py measures it);
dHash needs no DCT, no numpy, and its bits can be recomputed from the stored
thumbnail for any rotation.  Keeping the thumbnail rather than only a hash is
what makes rotations and the finer second test possible.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import mul

SIDE = 16
#: the bytes of a signature: the thumbnail's pixels, then mean red, green, blue and colourfulness
SIGNATURE_BYTES = SIDE * SIDE + 4
#: the last byte of a signature computed from a camera's embedded thumbnail, not the picture
APPROXIMATE = b"\x01"
#: how much further apart (gradient distance) an approximate signature may be from the
#: picture's own and still be looked at: camera files measure up to 0.077 between their embedded
#: thumbnail's signature and their picture's (mean 0.005; 0.040-0.061 on an earlier 1,446)
APPROX_DISTANCE = 0.08
#: ... and how many more dHash bits may differ (bench/README.md, issue 13)
APPROX_BITS = 4
#: ... and how much less contrast an approximate signature may show and still be searched
APPROX_CONTRAST = 1.5
#: a thumbnail whose pixels vary less than this (standard deviation, 0-255) says
#: too little to tell photos apart (a black frame, a blank sky): never matched
MIN_CONTRAST = 6.0

_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def signature_of(data: bytes, orientation: int | None = None) -> str | None:
    """The base64 signature of an image file's bytes, or None when Pillow cannot
    decode it (a format it does not know: the photo simply takes no part in
    variant detection)."""
    return read_signature(data, orientation)[0]


def read_signature(data, orientation: int | None = None) -> tuple[str | None, str | None]:
    """(signature, problem) of an image's bytes or open file: the problem says why
    pixels that Pillow knows how to read could not be decoded (damaged image data
    behind an intact structure)."""
    from PIL import Image

    try:
        im = Image.open(data if hasattr(data, "read") else io.BytesIO(data))
    except Exception:  # noqa: BLE001 - a format Pillow does not read: no signature, no verdict
        return None, None
    try:
        with im:
            if im.format == "JPEG":
                im.draft("RGB", (SIDE * 4, SIDE * 4))  # decode at 1/2..1/8 scale: far cheaper
            im.load()  # first: reading EXIF can load (and half-decode) some formats, e.g. PNG
            if orientation is None:
                try:
                    orientation = im.getexif().get(0x0112)
                except Exception:
                    orientation = None
            return signature_of_image(im, orientation), None
    except (OSError, SyntaxError, ValueError) as e:
        return None, f"its image data is damaged ({e}); recorded as it is, but check the file"
    except Exception:  # noqa: BLE001 - an undecodable image only loses variant detection
        return None, None


def signature_of_image(im, orientation: int | None = None, approximate: bool = False) -> str:
    """The signature of a decoded picture; ``approximate`` when the picture is a camera's
    embedded thumbnail rather than the photo itself (the signature says so)."""
    from PIL import Image, ImageChops

    if max(im.size) > 256:  # shrink before any conversion: a 9000x9000 palette image stays small
        w, h = im.size
        target = (max(1, w * 256 // max(w, h)), max(1, h * 256 // max(w, h)))
        try:
            im = im.resize(target, Image.Resampling.BOX)
        except ValueError:  # modes BOX cannot resample
            im = im.resize(target, Image.Resampling.NEAREST)
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit samples: scale to 8 bits (a plain conversion clips everything above 255 to white)
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if orientation in _TRANSPOSE:
        im = im.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGBA").convert("RGB") if "A" in im.mode or im.mode == "P" else im.convert("RGB")
    small = im.resize((SIDE * 2, SIDE * 2), Image.Resampling.BOX).convert("RGB")
    gray = small.convert("L").resize((SIDE, SIDE), Image.Resampling.BOX)
    # means as sums of the bytes over the count: the same numbers ImageStat gives (it sums a
    # histogram), in a quarter of its time (60 -> 15 us a picture, measured)
    raw, n = small.tobytes(), SIDE * SIDE * 4
    r, g, b = (round(sum(raw[c::3]) / n) for c in range(3))
    red, green, blue = small.split()
    spread = ImageChops.subtract(ImageChops.lighter(ImageChops.lighter(red, green), blue),
                                 ImageChops.darker(ImageChops.darker(red, green), blue))
    chroma = sum(spread.tobytes()) / n  # mean of max - min over each pixel's channels
    tail = bytes((min(255, r), min(255, g), min(255, b), min(255, round(chroma))))
    return base64.b64encode(gray.tobytes() + tail + (APPROXIMATE if approximate else b"")).decode("ascii")


@dataclass(frozen=True)
class Look:
    """A decoded signature."""

    pixels: bytes  # SIDE*SIDE grayscale values, row by row
    colour: bytes = bytes(4)  # mean red, green, blue, colourfulness
    #: computed from a camera's embedded thumbnail: near the picture's, not the same
    approximate: bool = False

    @staticmethod
    def parse(sig: str | None) -> "Look | None":
        """The decoded signature (None when there is none or it is damaged).
        Parsed once per signature while it is in use: resolve compares one
        picture with many, and each Look keeps what it computed (mean,
        contrast, gradients, dHash) so a pair costs only the comparison."""
        return _parse(sig) if sig else None

    @cached_property
    def mean(self) -> float:
        return sum(self.pixels) / len(self.pixels)

    @cached_property
    def contrast(self) -> float:
        """Standard deviation of the thumbnail's pixels, from exact integer sums
        (n*sum(p^2) - sum(p)^2): a tenth of the time of a loop over the pixels."""
        px = self.pixels
        n = len(px)
        total = sum(px)
        return ((n * sum(map(mul, px, px)) - total * total) ** 0.5) / n

    @cached_property
    def informative(self) -> bool:
        """Says enough to be matched (an approximate signature with a little less contrast
        too: its picture may have enough, and is decoded when it meets a candidate)."""
        return self.contrast >= MIN_CONTRAST - (APPROX_CONTRAST if self.approximate else 0)

    def stored(self) -> bytes:
        """The signature's bytes as the record and the index keep them."""
        return self.pixels + self.colour + (APPROXIMATE if self.approximate else b"")

    @cached_property
    def blocks(self) -> tuple[float, ...]:
        return _blocks(self.pixels)

    def rotated(self, degrees: int) -> "Look":
        """The thumbnail turned clockwise by 90, 180 or 270 degrees (kept: a
        picture is compared turned with each of its candidates)."""
        turns = (degrees // 90) % 4
        if not turns:
            return self
        found = self._turned.get(turns)
        if found is None:
            found = self._turned[turns] = Look(_rotated(self.pixels, turns), self.colour, self.approximate)
        return found

    @cached_property
    def _turned(self) -> dict:
        return {}

    def gradients(self) -> tuple[int, int]:
        """(direction bits, strength bits) over every horizontal and vertical
        neighbour pair: is the left (upper) pixel brighter, and do they differ by
        at least FLAT levels (a flat stretch's direction is noise)."""
        return self._gradients

    @cached_property
    def _gradients(self) -> tuple[int, int]:
        return _gradients(self.pixels)

    def gradient_bytes(self) -> bytes:
        """:meth:`gradients` as the index keeps them (GRADIENT_BYTES bytes: direction bits, then
        strength bits, each big-endian)."""
        sign, strong = self.gradients()
        half = GRADIENT_BYTES // 2
        return sign.to_bytes(half, "big") + strong.to_bytes(half, "big")

    @staticmethod
    def indexed(look: bytes, grad: bytes | None = None) -> "Look":
        """A Look from the index's row: the signature's bytes and, when the row has them, its
        gradients (:meth:`gradient_bytes`), which are then not computed again."""
        n = SIDE * SIDE
        out = Look(look[:n], look[n:n + 4], look[n + 4:] == APPROXIMATE)
        if grad is not None and len(grad) == GRADIENT_BYTES:
            half = GRADIENT_BYTES // 2
            # what the cached property would compute, set where it keeps it
            out.__dict__["_gradients"] = (int.from_bytes(grad[:half], "big"), int.from_bytes(grad[half:], "big"))
        return out

    def dhash64(self) -> int:
        """64-bit dHash of a 9x8 reduction of the thumbnail; a pair closer than
        FLAT levels counts as not brighter (so flat areas give stable zeros
        instead of noise: on the corpus, every resized or re-encoded copy then
        shares a 16-bit quarter with its original)."""
        return self._dhash

    @cached_property
    def _dhash(self) -> int:
        left, right = self._dhash_pairs
        return _compact(_at_least(_lanes(left), _lanes(right), FLAT, 64), 64)

    @cached_property
    def _dhash_pairs(self) -> tuple[bytes, bytes]:
        """The 64 (left, right) pixel pairs of the 9x8 reduction, bit (y, x) row by row, the first
        the highest: the bit is px[y][x] > px[y][x+1] + FLAT - 1."""
        from PIL import Image

        px = Image.frombytes("L", (SIDE, SIDE), self.pixels).resize((9, 8), Image.Resampling.BOX).tobytes()
        return (b"".join(px[r:r + 8] for r in range(0, 72, 9)), b"".join(px[r + 1:r + 9] for r in range(0, 72, 9)))

    def near_quarters(self) -> tuple[int | None, int | None, int | None, int | None]:
        """The dHash's quarters with the bit whose pixel pair sits at the threshold flipped (a pair
        one level from the other answer: the difference is FLAT - 1 or FLAT), each quarter at its
        position; None for a quarter with no such bit.  The keys the same picture, signed another
        way, most likely has instead: an embedded thumbnail's signature moves such bits.  On the
        camera corpora (bench/README.md, issue 13), of 1,970 pairs of copies where a signature
        was approximate, 24 shared no quarter; this probe finds 7 of them (two bits a quarter at
        any distance from the threshold: 9, for twice the searches)."""
        return self._near

    def given(self, near: tuple) -> None:
        """What another process computed of this signature (:meth:`near_quarters`: discover's
        readers compute it beside the dHash), so it is not computed again here."""
        self.__dict__["_near"] = tuple(near)

    @cached_property
    def _near(self) -> tuple[int | None, int | None, int | None, int | None]:
        left, right = self._dhash_pairs
        base = quarters(self._dhash)
        out: list[int | None] = [None, None, None, None]
        for pos in range(4):
            for i in range(16 * pos, 16 * pos + 16):  # bit i (row by row, the first the highest)
                if FLAT - 1 <= left[i] - right[i] <= FLAT:
                    out[pos] = base[pos] ^ (1 << (15 - (i - 16 * pos)))
                    break
        return (out[0], out[1], out[2], out[3])

# Comparisons of many pixels at once, in Python integers (no loop over the pixels): each
# pixel is put in its own 16-bit lane of a big integer, and ((a | guard) - b - level) keeps a
# lane's top bit exactly when a - b >= level (a lane never borrows from the next: pixels are
# at most 255).  Five times faster than a loop over 480 pairs, and the same bits.

def _lanes(values: bytes) -> int:
    """Each byte in its own 16-bit lane, the first byte in the lowest lane."""
    buf = bytearray(2 * len(values))
    buf[0::2] = values
    return int.from_bytes(buf, "little")


@lru_cache(maxsize=None)
def _lane_constants(n: int) -> tuple[int, int]:
    """(the top bit of each of n lanes, 1 in each of n lanes)."""
    one = int.from_bytes(b"\x01\x00" * n, "little")
    return one << 15, one


def _at_least(a: int, b: int, level: int, n: int) -> int:
    """Lanes whose value in ``a`` minus the one in ``b`` is at least ``level`` (>= 1): their top bit set."""
    guard, one = _lane_constants(n)
    return ((a | guard) - b - level * one) & guard


_TOP = bytes.maketrans(b"\x00\x80", b"01")


def _compact(lanes: int, n: int) -> int:
    """The top bits of n lanes as an n-bit integer, the first lane the highest bit."""
    return int(lanes.to_bytes(2 * n, "little")[1::2].translate(_TOP), 2)


#: signatures parsed and kept (up to ~3 kB each with what they computed, turns included):
#: enough for the pictures resolve compares around one photo, bounded whatever the library's size
PARSED_CACHE = 2048


@lru_cache(maxsize=PARSED_CACHE)
def _parse(sig: str) -> "Look | None":
    try:
        raw = base64.b64decode(sig, validate=True)
    except (ValueError, TypeError):
        return None
    n = SIDE * SIDE
    if len(raw) == n + 4:
        return Look(raw[:n], raw[n:])
    if len(raw) == n + 5 and raw[n + 4:] == APPROXIMATE:
        return Look(raw[:n], raw[n:n + 4], True)
    return None


@lru_cache(maxsize=8192)
def _rotated(px: bytes, turns: int) -> bytes:
    for _ in range(turns):
        # clockwise: new[y][x] = old[SIDE-1-x][y]
        px = bytes(px[(SIDE - 1 - x) * SIDE + y] for y in range(SIDE) for x in range(SIDE))
    return px


_PAIRS = [(y * SIDE + x, y * SIDE + x + 1) for y in range(SIDE) for x in range(SIDE - 1)] + [
    (y * SIDE + x, (y + 1) * SIDE + x) for x in range(SIDE) for y in range(SIDE - 1)]
#: the gradients' two bit strings as the index keeps them, in bytes (480 bits each)
GRADIENT_BYTES = 2 * ((len(_PAIRS) + 7) // 8)


#: gradients kept by thumbnail: a first import compares each new photo with candidates that come
#: back photo after photo (a new Look each time, read from the index), 9 % of discover's main thread
#: at 23,901 small photos; ~0.6 kB a picture kept (the thumbnail and two ints)
@lru_cache(maxsize=2048)
def _gradients(px: bytes) -> tuple[int, int]:
    """(sign, strong) bits over _PAIRS, in that order (the first pair the
    highest bit): the left or upper pixel is brighter; they differ by at least
    FLAT.  The pairs' pixels are gathered by slicing (rows; then columns, whose
    pairs are the vertical ones in _PAIRS's order) and compared all at once."""
    cols = [px[x::SIDE] for x in range(SIDE)]
    first = b"".join([*(px[r:r + SIDE - 1] for r in range(0, SIDE * SIDE, SIDE)), *(c[:-1] for c in cols)])
    second = b"".join([*(px[r + 1:r + SIDE] for r in range(0, SIDE * SIDE, SIDE)), *(c[1:] for c in cols)])
    a, b = _lanes(first), _lanes(second)
    n = len(_PAIRS)
    sign = _at_least(a, b, 1, n)
    strong = _at_least(a, b, FLAT, n) | _at_least(b, a, FLAT, n)
    return _compact(sign, n), _compact(strong, n)


#: neighbours closer than this (0-255) count as flat: their order is noise
FLAT = 3


def tone_distance(a: Look, b: Look) -> int:
    """How far apart the overall tone and colour are (0-255): brightness,
    contrast, each colour's mean and colourfulness.  Resizing and re-encoding
    move them by a few levels; an edit (exposure, filter, black and white) more."""
    return round(max(abs(a.mean - b.mean), abs(a.contrast - b.contrast),
                     *(abs(x - y) for x, y in zip(a.colour, b.colour))))


def _blocks(px: bytes) -> tuple[float, ...]:
    """Mean of each 4x4 block of the thumbnail (16 blocks, row by row)."""
    out = []
    for by in range(0, SIDE, 4):
        for bx in range(0, SIDE, 4):
            out.append(sum(sum(px[(by + y) * SIDE + bx:(by + y) * SIDE + bx + 4]) for y in range(4)) / 16)
    return tuple(out)


def local_tone_distance(a: Look, b: Look) -> float:
    """How much one part of the picture (a 4x4 block of the thumbnail, a
    sixteenth) is lighter or darker than in the other, beyond the overall
    shift (0-255).  Resizing and re-encoding move a block by a few levels; a
    different photo of the same composition, whose gradients agree, often more."""
    shift = a.mean - b.mean
    return max(abs(x - y - shift) for x, y in zip(a.blocks, b.blocks))


def slack(a: Look, b: Look) -> float:
    """How much further apart two signatures may be to be looked at, for where they came from:
    APPROX_DISTANCE when one is approximate (an embedded thumbnail's), else 0."""
    return APPROX_DISTANCE if a.approximate or b.approximate else 0.0


def gradient_distance(a: Look, b: Look) -> float:
    """The fraction (0..1) of neighbour pairs whose order differs between two
    thumbnails, among the pairs that are not flat in both (a sky's gentle
    gradient flips at random under re-encoding; an edge moved by a crop does not)."""
    sa, ka = a.gradients()
    sb, kb = b.gradients()
    counted = ka | kb
    n = counted.bit_count()
    return ((sa ^ sb) & counted).bit_count() / n if n else 0.0


def quarters(h: int) -> tuple[int, int, int, int]:
    """The four 16-bit quarters of a 64-bit hash (the index's lookup keys)."""
    return ((h >> 48) & 0xFFFF, (h >> 32) & 0xFFFF, (h >> 16) & 0xFFFF, h & 0xFFFF)


def best_rotation(a: Look, b: Look) -> tuple[int, float]:
    """(degrees b must turn clockwise to look most like a, that distance)."""
    best = (0, gradient_distance(a, b))
    for deg in (90, 180, 270):
        d = gradient_distance(a, b.rotated(deg))
        if d < best[1]:
            best = (deg, d)
    return best
