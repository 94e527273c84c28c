"""The hints file: its two forms, the clicks it gives, and one clear error per kind of bad entry."""

import json

import pytest

from manga_cyclegan.colorize.hints import Click
from manga_cyclegan.colorize.hints_file import (
    HintsError,
    check_inside,
    check_pages,
    clicks_from,
    hints_document,
    parse_color,
    read_hints,
    write_hints,
)


def test_colors_parse_in_both_hex_forms():
    assert parse_color("#f08a24") == (240, 138, 36)
    assert parse_color("#F82") == (255, 136, 34)
    for bad in ("f08a24", "#f08a2", "orange", 12, None, "#ggg"):
        with pytest.raises(ValueError, match="#rrggbb"):
            parse_color(bad)


def test_the_plain_mapping_and_the_written_form_give_the_same_clicks(tmp_path):
    plain = {"ch01.cbz/003.png": [{"x": 412, "y": 230, "color": "#f08a24"},
                                  {"x": 5, "y": 6, "color": "#000", "scope": "page"}]}
    clicks = clicks_from(plain)
    assert clicks == [Click("ch01.cbz/003.png", 412, 230, (240, 138, 36)),
                      Click("ch01.cbz/003.png", 5, 6, (0, 0, 0), "page")]
    path = tmp_path / "out.json"
    write_hints(path, clicks, parts=[{"color": "#f08a24", "regions": 3}])
    written = json.loads(path.read_text())
    assert written["pages"] == {"ch01.cbz/003.png": [{"x": 412, "y": 230, "color": "#f08a24"},
                                                     {"x": 5, "y": 6, "color": "#000000", "scope": "page"}]}
    assert written["parts"] == [{"color": "#f08a24", "regions": 3}]
    assert read_hints(path) == clicks
    assert hints_document(clicks)["pages"] == written["pages"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not JSON \\(line 1"),
    ("[1, 2]", "expected a JSON object of pages"),
    ('{"p.png": {"x": 1}}', "'p.png' must map to a list of clicks"),
    ('{"p.png": [3]}', "'p.png' click 1 is not an object"),
    ('{"p.png": [{"x": 1.5, "y": 2, "color": "#fff"}]}', "x must be a whole number"),
    ('{"p.png": [{"x": 1, "color": "#fff"}]}', "y must be a whole number"),
    ('{"p.png": [{"x": 1, "y": 2, "color": "blue"}]}', "click 1: color 'blue' is not a color"),
    ('{"p.png": [{"x": 1, "y": 2, "color": "#fff", "scope": "book"}]}', "scope 'book' is unknown"),
    ('{"p.png": [{"x": 1, "y": 2, "color": "#fff", "colour": "#fff"}]}', "unknown keys \\['colour'\\]"),
])
def test_a_bad_file_names_the_entry_and_the_fix(tmp_path, content, message):
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(HintsError, match=message) as error:
        read_hints(path)
    assert str(path) in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(HintsError, match="hints file not found: .*nope.json"):
        read_hints(tmp_path / "nope.json")


def test_unknown_pages_and_clicks_outside_are_refused_with_the_names_to_use():
    clicks = [Click("003.png", 1, 1, (0, 0, 0))]
    with pytest.raises(HintsError, match="'003.png' is not in the input.*ch01.cbz/003.png"):
        check_pages(clicks, ["ch01.cbz/001.png", "ch01.cbz/003.png"])
    check_pages([Click("ch01.cbz/003.png", 1, 1, (0, 0, 0))], ["ch01.cbz/003.png"])
    with pytest.raises(HintsError, match=r"\(40, 2\) is outside page 'p.png', 40x30 pixels: give 0 <= x < 40"):
        check_inside([Click("p.png", 40, 2, (0, 0, 0))], {"p.png": (30, 40)})
    check_inside([Click("p.png", 39, 29, (0, 0, 0))], {"p.png": (30, 40)})
