"""Datasets behind the UnpairedDataModule: unpaired training pairs, their epoch-aware sampler, validation pages.

Training pairing contract: item ``i`` of epoch ``e`` is ``(A[sa(p)], B[sb(p)])`` with ``p = e * L + i`` (``L`` =
epoch length), where each domain's stream ``s`` is an endless concatenation of fresh permutations of its pages,
permutation ``k`` drawn from ``np.random.default_rng([seed, domain, k])``. Pairing and augmentation therefore
depend only on ``(seed, epoch, i)``: identical for any worker count, any DDP layout and after a resume.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from manga_cyclegan.color import from_uint8
from manga_cyclegan.data.transforms import PageTransform, build_eval_transform
from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS, read_page
from manga_cyclegan.io.labels import read_label_map
from manga_cyclegan.io.pages import PageReadError, PageRef

log = logging.getLogger(__name__)

_MASK63 = (1 << 63) - 1


# --------------------------------------------------------------------------- training data
class _DomainStream:
    """Endless page-index stream: back-to-back permutations of ``range(n)``.

    Permutation ``k`` comes from ``default_rng([seed, domain, k])`` so any position can be
    computed directly in any process. A tiny per-process cache avoids regenerating the
    permutation for every item.
    """

    def __init__(self, n: int, seed: int, domain: int, cache: int = 4):
        self.n, self.seed, self.domain, self._cache_size = n, seed, domain, cache
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def _perm(self, k: int) -> np.ndarray:
        perm = self._cache.get(k)
        if perm is None:
            perm = np.random.default_rng([self.seed, self.domain, k]).permutation(self.n)
            self._cache[k] = perm
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return perm

    def __getitem__(self, p: int) -> int:
        k, off = divmod(int(p), self.n)
        return int(self._perm(k)[off])


class UnpairedPageDataset(Dataset):
    """Unpaired (A, B) training items: ``{"A": [1,c,c], "B": [3,c,c]}`` in [-1, 1].

    Index with ``(epoch, i)`` (what :class:`UnpairedEpochSampler` yields) or with a plain
    ``i``, which then uses the epoch last given to :meth:`set_epoch` (shared with worker
    processes through shared memory, but the tuple form is the reliable one).
    A page that fails to decode is replaced by another page drawn deterministically from
    ``(seed, epoch, i)``; replacements are counted in :attr:`skipped_pages` and logged.
    """

    def __init__(
        self,
        pages_a: Sequence[PageRef],
        pages_b: Sequence[PageRef],
        transform_a: PageTransform,
        transform_b: PageTransform,
        *,
        length: int | None = None,
        seed: int = 0,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        max_retries: int = 16,
        archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    ):
        if not pages_a or not pages_b:
            raise ValueError("both domains need at least one page")
        self.pages = (list(pages_a), list(pages_b))
        self.transforms = (transform_a, transform_b)
        self.length = int(length) if length else max(len(pages_a), len(pages_b))
        if self.length <= 0:
            raise ValueError(f"epoch length must be positive, got {self.length}")
        self.seed = int(seed) & _MASK63
        self.max_pixels = max_pixels
        self.max_retries = max_retries
        self.archive_limits = archive_limits
        self._streams = (_DomainStream(len(pages_a), self.seed, 0), _DomainStream(len(pages_b), self.seed, 1))
        # Shared memory so values written in the main process are seen by (persistent) workers
        # and worker-side counts are seen by the main process.
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._skipped = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._bad: set[PageRef] = set()  # per process: do not retry a known-bad page

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self._epoch[0] = int(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    @property
    def skipped_pages(self) -> int:
        """How many times a training page failed to decode and another page was used."""
        return int(self._skipped[0])

    def pair_indices(self, epoch: int, i: int) -> tuple[int, int]:
        """Page indices ``(index into A, index into B)`` of item ``i`` in ``epoch``."""
        p = int(epoch) * self.length + int(i)
        return self._streams[0][p], self._streams[1][p]

    def item_seeds(self, epoch: int, i: int) -> tuple[int, int]:
        """Augmentation seeds of the A and B crops of item ``i`` in ``epoch``."""
        sa, sb = np.random.SeedSequence([self.seed, int(epoch), int(i)]).generate_state(2)
        return int(sa), int(sb)

    def _load(self, domain: int, idx: int, epoch: int, i: int) -> np.ndarray:
        pages = self.pages[domain]
        mode = "L" if domain == 0 else "RGB"
        for attempt in range(self.max_retries + 1):
            ref = pages[idx]
            if ref not in self._bad:
                try:
                    return read_page(ref, mode, max_pixels=self.max_pixels, limits=self.archive_limits)
                except PageReadError as e:
                    self._bad.add(ref)
                    log.warning("Skipping unreadable training page (another page is used instead): %s", e)
            self._skipped[0] += 1
            idx = int(np.random.default_rng([self.seed, int(epoch), int(i), domain, attempt + 1]).integers(len(pages)))
        raise RuntimeError(
            f"{self.max_retries + 1} unreadable pages in a row in domain {'AB'[domain]} "
            f"(e.g. '{pages[idx]}'); check the data folder"
        )

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        if isinstance(index, (tuple, list)):
            epoch, i = int(index[0]), int(index[1])
        else:
            epoch, i = self.epoch, int(index)
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for epoch length {self.length}")
        ia, ib = self.pair_indices(epoch, i)
        seed_a, seed_b = self.item_seeds(epoch, i)
        a = self.transforms[0](self._load(0, ia, epoch, i), seed_a)
        b = self.transforms[1](self._load(1, ib, epoch, i), seed_b)
        return {"A": a, "B": b}


class UnpairedEpochSampler(DistributedSampler):
    """Yields ``(epoch, i)`` for this rank's share of ``range(len(dataset))``.

    No shuffling is needed here: the dataset's permutations already randomize which pages
    item ``i`` holds. Rank ``r`` of ``R`` gets ``i = r, r+R, ...`` (padded by wrap-around
    to equal shares, or trimmed with ``drop_last``), like ``DistributedSampler``.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 drop_last: bool = False):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, seed=seed,
                         drop_last=drop_last)

    def __iter__(self):
        n = len(self.dataset)
        indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - n
            while pad > 0:
                indices += indices[:pad]
                pad = self.total_size - len(indices)
        else:
            indices = indices[: self.total_size]
        mine = indices[self.rank:self.total_size:self.num_replicas]
        epoch = self.epoch
        return iter([(epoch, i) for i in mine])

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


# --------------------------------------------------------------------------- validation data
class PageValDataset(Dataset):
    """Whole validation pages, aspect kept, shrunk so the long side is <= ``max_side``.

    Items: ``{"A": [1,H,W], "name": str}`` plus, for a paired set, ``"B_truth": [3,H,W]`` and
    ``"labels": LongTensor[H,W]`` (nearest-neighbour resized to the same ``H,W``). A page that
    fails to decode is replaced by the next readable one (logged) rather than ending the run.
    """

    def __init__(
        self,
        pages: Sequence[PageRef],
        names: Sequence[str],
        max_side: int | None,
        *,
        truths: Sequence[PageRef] | None = None,
        labels: Sequence[Path] | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    ):
        self.pages, self.names = list(pages), list(names)
        self.truths = list(truths) if truths is not None else None
        self.labels = list(labels) if labels is not None else None
        self.max_side = max_side
        self.max_pixels = max_pixels
        self.archive_limits = archive_limits
        self.transform = build_eval_transform(1, max_side)

    def __len__(self) -> int:
        return len(self.pages)

    def _item(self, j: int) -> dict[str, Any]:
        a = read_page(self.pages[j], "L", max_pixels=self.max_pixels, limits=self.archive_limits)
        ta = self.transform(a)
        h, w = ta.shape[-2:]
        item: dict[str, Any] = {"A": ta, "name": self.names[j]}
        if self.truths is not None:
            b = read_page(self.truths[j], "RGB", max_pixels=self.max_pixels, limits=self.archive_limits)
            if b.shape[:2] != (h, w):
                shrink = b.shape[0] * b.shape[1] > h * w
                b = cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            item["B_truth"] = from_uint8(b)
        if self.labels is not None:
            lab = read_label_map(self.labels[j], self.max_pixels)
            if lab.shape != (h, w):
                # cv2 cannot resize int64; class ids fit int32.
                lab = cv2.resize(lab.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
            item["labels"] = torch.from_numpy(np.ascontiguousarray(lab).astype(np.int64))
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.pages)
        for k in range(n):
            j = (index + k) % n
            try:
                return self._item(j)
            except PageReadError as e:
                log.warning("Unreadable validation page replaced by the next one: %s", e)
        raise RuntimeError("no validation page could be read")
