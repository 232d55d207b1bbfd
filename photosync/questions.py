"""What counts as one question for a person: the one definition that resolve's
listing and status's count both use, so they agree.

A conflict that needs a decision (``resolution_required``) is a question.  A
conflict about two records (a quality or edit variant, ``related_photos``) is
recorded on both, each from its own side, and is one question about the pair;
any other conflict is its record's own.  Conflicts kept for information (a
visibility discrepancy, a service policy violation) are not questions.
"""

from __future__ import annotations

from .model import Conflict, Photo


def question_key(photo_id: str, conflict: Conflict) -> str:
    """The same text for a pair's conflict seen from either record."""
    if conflict.related_photos:
        return "pair:" + ":".join(sorted({photo_id, *conflict.related_photos}))
    return f"{photo_id}:{conflict.id}"


def questions(photo: Photo) -> list[tuple[str, Conflict]]:
    """(key, conflict) of each question this record holds."""
    return [(question_key(photo.photo_id, c), c) for c in photo.conflicts if c.resolution_required]
