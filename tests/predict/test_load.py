"""predict over 500 pages: every page accounted for, and memory flat over the run."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from PIL import Image

import manga_cyclegan.predict.run as prediction
from manga_cyclegan.colorize.colorizer import InferenceSettings
from manga_cyclegan.predict.run import predict_pages
from manga_cyclegan.predict.sinks import OutputOptions
from tests.helpers import manga_page

pytestmark = pytest.mark.slow  # 500 pages

PAGES = 500
FIRST_SAMPLE = 100  # after the allocator and the model's buffers have warmed up
MAX_GROWTH_MIB = 10  # measured: 0.2 MiB; a 100 kB-per-page leak shows as 38 MiB
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE / 2**20


class ResidentMemoryBar:
    """Stands in for predict's progress bar: records the resident memory when given pages are done."""

    samples: ClassVar[dict[int, float]] = {}

    def __init__(self, *args, **kwargs):
        self.done = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.done in (FIRST_SAMPLE, PAGES):
            ResidentMemoryBar.samples[self.done] = resident_mib()

    def close(self) -> None:
        pass


def test_500_pages_are_all_accounted_for_and_memory_stays_flat(colorizer, tmp_path, monkeypatch):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(PAGES):
        Image.fromarray(manga_page(64, 48, seed=i)).save(source / f"{i:03d}.png")
    monkeypatch.setattr(prediction, "tqdm", ResidentMemoryBar)
    summary = predict_pages(colorizer, str(source), tmp_path / "out", InferenceSettings(), OutputOptions())
    assert summary.total == PAGES and summary.counts["colorized"] == PAGES, summary.report()
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == [f"{i:03d}.png" for i in range(PAGES)]
    growth = ResidentMemoryBar.samples[PAGES] - ResidentMemoryBar.samples[FIRST_SAMPLE]
    assert growth < MAX_GROWTH_MIB, f"resident memory grew {growth:.1f} MiB from page {FIRST_SAMPLE} to {PAGES}"
