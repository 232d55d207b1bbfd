"""The visual signature's comparisons: the fast forms resolve uses give the
same answers as the plain definitions (kept here as the reference)."""

from __future__ import annotations

import base64
import random

import pytest

from photosync.media import visual
from photosync.media.visual import FLAT, SIDE, Look, local_tone_distance

PAIRS = [(y * SIDE + x, y * SIDE + x + 1) for y in range(SIDE) for x in range(SIDE - 1)] + [
    (y * SIDE + x, (y + 1) * SIDE + x) for x in range(SIDE) for y in range(SIDE - 1)]


def reference_gradients(px: bytes) -> tuple[int, int]:
    sign = strong = 0
    for i, j in PAIRS:
        d = px[i] - px[j]
        sign = (sign << 1) | (d > 0)
        strong = (strong << 1) | (abs(d) >= FLAT)
    return sign, strong


def reference_dhash(px: bytes) -> int:
    from PIL import Image

    small = Image.frombytes("L", (SIDE, SIDE), px).resize((9, 8), Image.Resampling.BOX).tobytes()
    bits = 0
    for y in range(8):
        for x in range(8):
            bits = (bits << 1) | (small[y * 9 + x] > small[y * 9 + x + 1] + FLAT - 1)
    return bits


def reference_contrast(px: bytes) -> float:
    mean = sum(px) / len(px)
    return (sum((p - mean) ** 2 for p in px) / len(px)) ** 0.5


def thumbnails(n: int, seed: int):
    """Noise, gentle gradients with steps of 0-3 levels (where FLAT decides), few levels, extremes."""
    rng = random.Random(seed)
    for k in range(n):
        kind = k % 4
        if kind == 0:
            px = bytes(rng.randrange(256) for _ in range(SIDE * SIDE))
        elif kind == 1:
            base = rng.randrange(60, 200)
            px = bytes(max(0, min(255, base + (i % SIDE) * rng.randint(-3, 3) + rng.randint(-2, 2)))
                       for i in range(SIDE * SIDE))
        elif kind == 2:
            px = bytes(rng.choice((0, 1, 2, 3, 4, 254, 255)) for _ in range(SIDE * SIDE))
        else:
            px = bytes(rng.choice((10, 12, 13, 200)) for _ in range(SIDE * SIDE))
        yield px


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_comparisons_give_the_reference_bits(seed):
    for px in thumbnails(400, seed):
        look = Look(px, bytes(4))
        assert look.gradients() == reference_gradients(px)
        assert look.dhash64() == reference_dhash(px)
        assert look.contrast == pytest.approx(reference_contrast(px), abs=1e-9)
        for turns in (1, 2, 3):
            turned = look.rotated(90 * turns)
            assert turned.pixels == visual._rotated(px, turns)
            assert turned.gradients() == reference_gradients(turned.pixels)


def test_a_signature_is_parsed_once_while_in_use():
    px = bytes(range(256))
    sig = base64.b64encode(px + bytes(4)).decode()
    first = Look.parse(sig)
    assert Look.parse(sig) is first  # what it computed is kept with it
    assert Look.parse("not base64!") is None and Look.parse(None) is None


def test_local_tone_sees_a_part_lighter_than_the_rest():
    px = bytes((i * 7) % 200 + 20 for i in range(256))
    brighter = Look(bytes(min(255, p + 5) for p in px), bytes(4))  # an overall shift: no local difference
    assert local_tone_distance(Look(px, bytes(4)), brighter) < 0.5
    patched = bytearray(px)
    for y in range(4):
        for x in range(4):
            patched[y * SIDE + x] = min(255, patched[y * SIDE + x] + 40)  # one corner lighter
    assert local_tone_distance(Look(px, bytes(4)), Look(bytes(patched), bytes(4))) > 30
