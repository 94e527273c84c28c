"""The web page's API (manga_cyclegan.web.server) with a tiny colorizer: pages and chapters in, colorized pages,
clicks, undo and downloads out; bad uploads get a 4xx in words and the server goes on; tokens; tabs kept apart."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.io.archives import ArchiveLimits
from manga_cyclegan.predict.sinks import OutputOptions
from manga_cyclegan.web.server import Chapters, create_app
from tests.colorize.test_hints import panel_page
from tests.helpers import png_bytes

TAB, OTHER_TAB = "tab-0000-aaaa", "tab-1111-bbbb"


@pytest.fixture
def client(colorizer, tmp_path):
    options = OutputOptions(format="png", archive_limits=ArchiveLimits(max_archive_members=8))
    chapters = Chapters(tmp_path / "sessions", colorizer, InferenceSettings(), options)
    return TestClient(create_app(chapters, max_upload_bytes=1 << 20))


def image(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def chapter_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_the_page_and_its_files_come_from_the_app_alone(client):
    page = client.get("/")
    assert page.status_code == 200 and 'type="file"' in page.text
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    text = page.text + client.get("/static/app.js").text + client.get("/static/app.css").text
    assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_colorize_answers_the_page_in_color_at_its_size_with_hints_applied(client):
    data = png_bytes(panel_page())
    plain = image(client.post("/api/colorize", files={"file": ("p.png", data, "image/png")}))
    assert plain.shape == (60, 120, 3)
    hinted = image(client.post("/api/colorize", files={"file": ("p.png", data, "image/png")},
                               data={"hints": json.dumps([{"x": 30, "y": 30, "color": "#f08a24"}])}))
    assert tuple(hinted[30, 30]) == (240, 138, 36) and tuple(plain[30, 30]) != (240, 138, 36)


@pytest.mark.parametrize("name, data, status, words", [
    ("p.png", b"not an image", 400, "not a recognizable image"),
    ("notes.txt", b"hello", 400, "not a page or a chapter"),
    ("big.png", b"0" * ((1 << 20) + 1), 413, "larger than 1 MiB"),
    ("ch.cbz", b"PK not a zip", 400, "ch.cbz"),
    ("ch.cbz", chapter_bytes({f"{i:02d}.png": png_bytes(panel_page()) for i in range(9)}), 400, "max_archive_members"),
])
def test_a_bad_upload_gets_a_4xx_in_words_and_the_server_goes_on(client, name, data, status, words):
    response = client.post(f"/api/chapters/{TAB}/pages", files={"file": (name, data)})
    if response.status_code == 200:  # a page is decoded when first shown
        response = client.get(f"/api/chapters/{TAB}/pages/0/color.png")
    assert response.status_code == status and words in response.json()["error"]
    assert "Traceback" not in response.text
    ok = client.post(f"/api/chapters/{OTHER_TAB}/pages", files={"file": ("p.png", png_bytes(panel_page()))})
    assert ok.status_code == 200


def test_an_upload_name_never_becomes_a_path(client, tmp_path):
    response = client.post(f"/api/chapters/{TAB}/pages", files={"file": ("../../escape.png", png_bytes(panel_page()))})
    assert response.json()["added"] == ["escape.png"]
    assert not list(tmp_path.rglob("escape.png"))
    assert [p.name for p in (tmp_path / "sessions" / TAB).iterdir()] == ["upload_0.png"]


def test_a_chapter_click_reaches_the_same_region_on_other_pages_and_undo_takes_it_back(client):
    members = {"ComicInfo.xml": b"<ComicInfo/>", "001.png": png_bytes(panel_page()), "002.png": png_bytes(panel_page())}
    added = client.post(f"/api/chapters/{TAB}/pages", files={"file": ("ch01.cbz", chapter_bytes(members))}).json()
    assert added["added"] == ["ch01.cbz/001.png", "ch01.cbz/002.png"]
    before = [image(client.get(f"/api/chapters/{TAB}/pages/{n}/color.png")) for n in (0, 1)]
    state = client.post(f"/api/chapters/{TAB}/clicks",
                        json={"page": "ch01.cbz/002.png", "x": 30, "y": 30, "color": "#f08a24"}).json()
    assert state["changed"] == ["ch01.cbz/001.png", "ch01.cbz/002.png"] and state["colors"][0] == "#f08a24"
    after = [image(client.get(f"/api/chapters/{TAB}/pages/{n}/color.png")) for n in (0, 1)]
    assert all(tuple(a[30, 30]) == (240, 138, 36) for a in after)
    hints = client.get(f"/api/chapters/{TAB}/hints.json").json()
    assert hints == {"pages": {"ch01.cbz/002.png": [{"x": 30, "y": 30, "color": "#f08a24"}]}}
    # The chapter comes back as predict writes it: members in order, the other files kept.
    with zipfile.ZipFile(io.BytesIO(client.get(f"/api/chapters/{TAB}/chapter.cbz").content)) as zf:
        assert zf.namelist() == ["ComicInfo.xml", "001.png", "002.png"]
        assert tuple(np.asarray(Image.open(zf.open("001.png")))[30, 30]) == (240, 138, 36)
    assert client.post(f"/api/chapters/{TAB}/undo").json()["changed"] == ["ch01.cbz/001.png", "ch01.cbz/002.png"]
    undone = [image(client.get(f"/api/chapters/{TAB}/pages/{n}/color.png")) for n in (0, 1)]
    assert all(np.array_equal(u, b) for u, b in zip(undone, before))


def test_bad_clicks_are_refused_in_words(client):
    client.post(f"/api/chapters/{TAB}/pages", files={"file": ("p.png", png_bytes(panel_page()))})
    for body, status, words in [({"page": "p.png", "x": 500, "y": 1, "color": "#fff"}, 400, "outside page"),
                                ({"page": "q.png", "x": 1, "y": 1, "color": "#fff"}, 404, "no page 'q.png'"),
                                ({"page": "p.png", "x": 1, "y": 1, "color": "red"}, 400, "#rrggbb")]:
        response = client.post(f"/api/chapters/{TAB}/clicks", json=body)
        assert response.status_code == status and words in response.json()["error"]


def test_two_tabs_keep_their_own_chapters(client):
    client.post(f"/api/chapters/{TAB}/pages", files={"file": ("a.png", png_bytes(panel_page()))})
    client.post(f"/api/chapters/{OTHER_TAB}/pages", files={"file": ("b.png", png_bytes(panel_page(shadow=True)))})
    client.post(f"/api/chapters/{TAB}/clicks", json={"page": "a.png", "x": 30, "y": 30, "color": "#f08a24"})
    assert [p["name"] for p in client.get(f"/api/chapters/{TAB}").json()["pages"]] == ["a.png"]
    assert [p["name"] for p in client.get(f"/api/chapters/{OTHER_TAB}").json()["pages"]] == ["b.png"]
    assert client.get(f"/api/chapters/{OTHER_TAB}/hints.json").json() == {"pages": {}}
    assert client.get("/api/chapters/bad/pages/0/color.png").status_code == 400  # ids are checked


def test_with_a_token_every_api_call_needs_it(colorizer, tmp_path):
    chapters = Chapters(tmp_path, colorizer, InferenceSettings(), OutputOptions(format="png"))
    client = TestClient(create_app(chapters, token="s3cret"))
    data = {"file": ("p.png", png_bytes(panel_page()))}
    assert client.get("/").status_code == 200  # the page itself holds nothing
    refused = client.post("/api/colorize", files=data)
    assert refused.status_code == 401 and "token" in refused.json()["error"]
    assert client.post("/api/colorize", files=data, headers={"X-Token": "wrong"}).status_code == 401
    assert client.post("/api/colorize", files=data, headers={"X-Token": "s3cret"}).status_code == 200
    assert client.post("/api/colorize?token=s3cret", files=data).status_code == 200
