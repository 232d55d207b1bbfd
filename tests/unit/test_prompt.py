"""The terminal resolver's reading of answers (the pty and pipe tests drive it end to end)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from photosync.cli.prompt import TerminalResolver, parse_custom
from photosync.conflicts.resolver import Option, StopResolving
from photosync.model import Conflict, Metadata, Photo


def _photo() -> Photo:
    return Photo("00000000-0000-0000-0000-000000000001", "sha256:" + "0" * 64, "pics:a.jpg",
                 Metadata(filename="a.jpg"), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")


def _ask(answers: str, field: str = "tags"):
    out = io.StringIO()
    resolver = TerminalResolver(Console(file=out, width=100), stdin=io.StringIO(answers))
    conflict = Conflict(f"metadata_mismatch:{field}", "metadata_mismatch", f"different {field}", field=field,
                        values={"pics:a.jpg": ["x"], "nas:a.jpg": ["y"]})
    options = [Option("use:pics:a.jpg", "Use pics:a.jpg", ["x"]), Option("use:nas:a.jpg", "Use nas:a.jpg", ["y"]),
               Option("custom", "Custom tags"), Option("skip", "Skip")]
    return resolver.decide(_photo(), conflict, options), out.getvalue()


def test_odd_digits_and_out_of_range_numbers_are_asked_again():
    decision, screen = _ask("²\n7\n2\n")
    assert decision.key == "use:nas:a.jpg"
    assert screen.count("type a number from 1 to 3") == 2


def test_an_empty_typed_value_goes_back_to_the_choices():
    decision, screen = _ask("3\n\ns\n")
    assert decision is None  # skipped, not a tag called "s"
    assert "back to the choices" in screen and "skipped" in screen


def test_typed_tags_are_kept_once_each():
    decision, _ = _ask("3\nbeach, family, beach\n")
    assert decision.key == "custom" and decision.value == ["beach", "family"]


def test_quit_and_end_of_input_stop_the_session():
    with pytest.raises(StopResolving):
        _ask("q\n")
    with pytest.raises(StopResolving):
        _ask("")


@pytest.mark.parametrize("typed, stored", [
    ("2019-03-12 12:22:32", "2019-03-12T12:22:32"),
    ("2019-03-12", "2019-03-12T00:00:00"),
    ("2019-03-12T12:22:32+02:00", "2019-03-12T12:22:32+02:00"),
    ("2019-03-12T12:22:32Z", "2019-03-12T12:22:32Z"),
])
def test_dates_are_stored_in_the_records_form(typed, stored):
    assert parse_custom("taken_date", typed) == stored


def test_impossible_values_are_refused_with_a_hint():
    for field, text in (("taken_date", "yesterday-ish"), ("taken_date", "0001-01-01"), ("location", "95, 10"),
                        ("tags", " , ")):
        with pytest.raises(ValueError):
            parse_custom(field, text)
