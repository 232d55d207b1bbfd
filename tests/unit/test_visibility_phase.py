"""visibility set / adopt as library functions (phases/visibility.py): the rules the CLI only
renders.  A widening needs a reason and changes nothing without one; the commit is the one the
library takes as an explicit widening when it catches up with it (a pull from another clone)."""

from __future__ import annotations

import pytest
from helpers import add_local_service, commit_count, git, open_lib

from photosync.errors import UsageError
from photosync.phases.discover import discover
from photosync.phases.visibility import adopt, set_level
from photosync.sample import generate_corpus


def _discovered(library, tmp_path, n=3):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=4, size=(64, 48), noise=4)
    add_local_service(library, "pics", pics)
    lib, _ = open_lib(library)
    try:
        discover(lib)
        return sorted(lib.photo_ids())
    finally:
        lib.close()


def test_a_widening_without_a_reason_changes_nothing(library, tmp_path):
    a, b, _c = _discovered(library, tmp_path)
    before = commit_count(library)
    lib, _ = open_lib(library)
    try:
        with pytest.raises(UsageError, match="needs --reason"):
            set_level(lib, [a, b], "friends")
        with pytest.raises(UsageError, match="level 'everyone'"):
            set_level(lib, [a], "everyone", "why not")
        assert lib.staged_count == 0
    finally:
        lib.close()
    assert commit_count(library) == before


def test_set_returns_what_changed_and_its_commit_is_kept_when_the_index_catches_up(library, tmp_path):
    a, b, c = _discovered(library, tmp_path)
    lib, _ = open_lib(library)
    try:
        parent = git(library, "rev-parse", "HEAD").strip()
        result = set_level(lib, [a[:8], b, a], "public", "  for the blog  ")
        assert [(ch.photo_id, ch.old, ch.new, ch.widened) for ch in result.changes] == [
            (a, "private", "public", True), (b, "private", "public", True)]
        assert result.commit and result.unchanged == []
        again = set_level(lib, [a, c], "private")  # narrowing needs no reason
        assert [(ch.photo_id, ch.widened) for ch in again.changes] == [(a, False)]
        assert again.unchanged == [(lib.get_photo(c).label, c)]
        message = git(library, "log", "-1", "--format=%B", result.commit)
        assert message.splitlines()[0] == "visibility: 2 photos -> public"
        assert "reason: for the blog" in message
        # as if the commits came from another clone: the index reflects the commit before them
        lib.index.set_meta("commit", parent)
    finally:
        lib.close()
    lib, c_ = open_lib(library)
    try:
        assert lib.widened == [] and not c_.problems
        assert lib.get_photo(b).visibility.canonical == "public"  # widened by `visibility set`: kept
        assert lib.get_photo(a).visibility.canonical == "private"
    finally:
        lib.close()


def test_adopt_needs_a_reason_and_a_service(library, tmp_path):
    a, _b, _c = _discovered(library, tmp_path)
    lib, _ = open_lib(library)
    try:
        with pytest.raises(UsageError, match="needs --reason"):
            adopt(lib, "pics", None, "  ")
        with pytest.raises(UsageError, match="no service named 'flickr'"):
            adopt(lib, "flickr", None, "shared there")
        # a folder shows no level: nothing to adopt, nothing committed
        result = adopt(lib, "pics", [a], "shared there")
        assert result.changes == [] and result.commit is None
    finally:
        lib.close()
