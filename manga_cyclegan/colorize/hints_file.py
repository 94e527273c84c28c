"""The hints file predict reads (`hints=`) and writes (`hints_out=`), and the web page too.

    {"ch01.cbz/003.png": [{"x": 412, "y": 230, "color": "#f08a24"},
                          {"x": 80, "y": 95, "color": "#3a5fcd", "scope": "page"}]}

A page is named by its path relative to the input (a folder's `sub/p01.png`; a chapter's members as
`ch01.cbz/003.png`; a single page by its file name); x and y are in the page's own pixels (0, 0 the top left);
the color is `#rrggbb` (or `#rgb`); `scope` is "chapter" (default: the same part on every page follows), "page"
(this page only) or "region" (the clicked region only). The file predict writes holds the same mapping under
"pages", beside "parts": where each click's color went (regions and pages), for reading; it is read back as is.

Every problem is a `HintsError` (a ValueError: predict exits 2 before any page is colored) that names the entry
and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from manga_cyclegan.colorize.hints import SCOPES, Click
from manga_cyclegan.io.atomic import atomic_write_bytes

HEX_COLOR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
FORMAT_HELP = 'each page maps to a list of clicks like {"x": 412, "y": 230, "color": "#f08a24"}'


class HintsError(ValueError):
    """A hints file that cannot be used: the message names the file, the entry and the fix."""


def parse_color(text: object) -> tuple[int, int, int]:
    """'#f08a24' or '#f82' -> (240, 138, 36); ValueError otherwise."""
    if not isinstance(text, str) or not HEX_COLOR.fullmatch(text.strip()):
        raise ValueError(f"color {text!r} is not a color: write it as #rrggbb, e.g. \"#f08a24\"")
    digits = text.strip()[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))


def hex_color(rgb: Iterable[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def clicks_from(data: object, source: str = "hints") -> list[Click]:
    """The clicks of a parsed hints document (either form of the module docstring)."""
    if isinstance(data, Mapping) and isinstance(data.get("pages"), Mapping):
        data = data["pages"]
    if not isinstance(data, Mapping):
        raise HintsError(f"{source}: expected a JSON object of pages; {FORMAT_HELP}")
    clicks = []
    for page, entries in data.items():
        if not isinstance(entries, list):
            raise HintsError(f"{source}: page {page!r} must map to a list of clicks; {FORMAT_HELP}")
        for i, entry in enumerate(entries):
            where = f"{source}: {page!r} click {i + 1}"
            if not isinstance(entry, Mapping):
                raise HintsError(f"{where} is not an object; {FORMAT_HELP}")
            unknown = set(entry) - {"x", "y", "color", "scope"}
            if unknown:
                raise HintsError(f"{where}: unknown keys {sorted(unknown)}; a click has x, y, color and scope")
            for axis in ("x", "y"):
                value = entry.get(axis)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise HintsError(f"{where}: {axis} must be a whole number of pixels, got {value!r}")
            try:
                color = parse_color(entry.get("color"))
            except ValueError as e:
                raise HintsError(f"{where}: {e}") from None
            scope = entry.get("scope", "chapter")
            if scope not in SCOPES:
                raise HintsError(f"{where}: scope {scope!r} is unknown: choose one of {', '.join(SCOPES)}")
            clicks.append(Click(str(page), entry["x"], entry["y"], color, scope))
    return clicks


def read_hints(path: str | Path) -> list[Click]:
    """The clicks of a hints file; HintsError for a file that is missing, not JSON or not in the format."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintsError(f"hints file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HintsError(f"hints file {path} cannot be read ({e}): give a UTF-8 JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise HintsError(f"hints file {path} is not JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                         f"{FORMAT_HELP}") from None
    return clicks_from(data, f"hints file {path}")


def check_pages(clicks: list[Click], names: list[str], source: str = "hints") -> None:
    """Every click names a page of the run (`names`)."""
    known = set(names)
    for click in clicks:
        if click.page not in known:
            near = [name for name in names if Path(name).name == Path(click.page).name][:3]
            examples = ", ".join(near or names[:3]) or "none: the input has no pages"
            raise HintsError(f"{source}: page {click.page!r} is not in the input: name pages by their path relative "
                             f"to the input, archive members as chapter.cbz/page.png (the input's: {examples})")


def check_inside(clicks: list[Click], sizes: Mapping[str, tuple[int, int]], source: str = "hints") -> None:
    """Every click falls inside its page (`sizes`: name -> (height, width))."""
    for click in clicks:
        height, width = sizes[click.page]
        if not (0 <= click.x < width and 0 <= click.y < height):
            raise HintsError(f"{source}: the click at ({click.x}, {click.y}) is outside page {click.page!r}, "
                             f"{width}x{height} pixels: give 0 <= x < {width}, 0 <= y < {height} in the page's own "
                             f"pixels")


def hints_document(clicks: Iterable[Click], parts: list[dict] | None = None) -> dict:
    """The JSON document of `clicks` (and the run's `parts`), as predict writes it."""
    pages: dict[str, list[dict]] = {}
    for click in clicks:
        entry = {"x": click.x, "y": click.y, "color": hex_color(click.color)}
        if click.scope != "chapter":
            entry["scope"] = click.scope
        pages.setdefault(click.page, []).append(entry)
    document = {"pages": pages}
    if parts is not None:
        document["parts"] = parts
    return document


def write_hints(path: str | Path, clicks: Iterable[Click], parts: list[dict] | None = None) -> None:
    atomic_write_bytes(Path(path), json.dumps(hints_document(clicks, parts), indent=2).encode())
