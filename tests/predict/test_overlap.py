"""Reading ahead and writing behind: same pages, same order, same bytes, errors where they would have been."""

from __future__ import annotations

import threading
import time
import zipfile

import pytest

from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.predict.overlap import WriteBehind, read_ahead
from manga_cyclegan.predict.run import predict_pages
from manga_cyclegan.predict.sinks import OutputOptions
from tests.helpers import manga_page, png_bytes


def test_read_ahead_keeps_order_runs_in_another_thread_and_stays_bounded():
    produced, threads = [], set()

    def items():
        for i in range(20):
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i

    seen = []
    for i in read_ahead(items(), depth=2):
        time.sleep(0.002)
        assert len(produced) - len(seen) <= 2 + 2  # the buffer, the item in hand and the one being put
        seen.append(i)
    assert seen == list(range(20)) and threads == {"read-ahead"}


def test_read_ahead_raises_the_producers_error_at_the_item_it_stopped_at():
    def items():
        yield 1
        raise ValueError("page 2 is broken")

    got = []
    with pytest.raises(ValueError, match="page 2"):
        for i in read_ahead(items()):
            got.append(i)
    assert got == [1]


def test_leaving_early_stops_the_reading_thread():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    for i in read_ahead(endless()):
        if i == 3:
            break
    deadline = time.time() + 5
    while any(t.name == "read-ahead" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "read-ahead" for t in threading.enumerate())


def test_write_behind_writes_in_order_and_raises_the_first_failure():
    written = []
    with WriteBehind(depth=2) as writer:
        for i in range(10):
            writer.submit(written.append, i)
    assert written == list(range(10))

    def fail(_):
        raise OSError("disk full")

    writer = WriteBehind(depth=2)
    writer.submit(fail, 0)
    with pytest.raises(OSError, match="disk full"):
        writer.drain()
    writer.close()


def test_a_chapter_comes_out_the_same_with_and_without_overlap(colorizer, tmp_path):
    chapter = tmp_path / "ch01.cbz"
    with zipfile.ZipFile(chapter, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i:03d}.png", png_bytes(manga_page(48, 40, seed=i)))
        zf.writestr("003b.png", b"not an image")  # fails, keeps its bytes and its place
        zf.writestr("ComicInfo.xml", "<ComicInfo/>")
    outputs = {}
    for overlap in (True, False):
        out = tmp_path / f"out_{overlap}"
        summary = predict_pages(colorizer, str(chapter), out, InferenceSettings(), OutputOptions(), progress=False,
                                overlap=overlap)
        assert summary.counts["colorized"] == 5 and summary.counts["failed"] == 1, summary.report()
        with zipfile.ZipFile(out / "ch01.cbz") as zf:
            outputs[overlap] = [(m.filename, zf.read(m)) for m in zf.infolist()]
    assert outputs[True] == outputs[False]
    assert [name for name, _ in outputs[True]] == ["000.png", "001.png", "002.png", "003.png", "004.png",
                                                  "003b.png", "ComicInfo.xml"]
