"""Unpaired B/W (domain A) / colour (domain B) manga pages as a LightningDataModule.

The folders under ``root`` (trainA, trainB, testA, testB, testLabels, meta.json, exposed as
``datamodule.meta``) or the ``mixed`` folder are described in :mod:`manga_cyclegan.data.layout`.

Training pairing contract
-------------------------
Item ``i`` of epoch ``e`` is ``(A[sa(p)], B[sb(p)])`` with ``p = e * L + i`` (``L`` = epoch
length) where each domain's stream ``s`` is an endless concatenation of fresh permutations of
its pages, permutation ``k`` drawn from ``np.random.default_rng([seed, domain, k])``. Hence:

* ``L = epoch_size`` or ``max(len(A), len(B))``: the larger domain is seen entirely in every
  epoch, the smaller one cycles (each page once per pass, never truncated);
* pairing and augmentation depend only on ``(seed, epoch, i)``: identical for any
  ``num_workers``, any DDP layout and after a resume; different from epoch to epoch.

The epoch travels inside the index: :class:`UnpairedEpochSampler` yields ``(epoch, i)``
tuples. It subclasses ``DistributedSampler`` so Lightning keeps it in DDP (Lightning only
injects its own sampler when the existing one is not a ``DistributedSampler``) and calls its
``set_epoch``; it splits ``i`` across ranks exactly like ``DistributedSampler``.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from manga_cyclegan.colorize.color_detect import DEFAULT_COLOR_THRESHOLD
from manga_cyclegan.data.datasets import (
    PageValDataset,
    UnpairedEpochSampler,
    UnpairedPageDataset,
)
from manga_cyclegan.data.layout import TEST_A, TEST_B, TEST_LABELS, DataLayout
from manga_cyclegan.data.paired import page_key, paired_truths
from manga_cyclegan.data.transforms import (
    build_train_transform,
    resize_to_max_side,
)
from manga_cyclegan.data.unreadable import report_unreadable
from manga_cyclegan.io.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS, probe_pages, read_page
from manga_cyclegan.io.listing import list_pages
from manga_cyclegan.io.pages import PageReadError, PageRef

__all__ = ["UnpairedDataModule"]

log = logging.getLogger(__name__)

def _plain(x: Any) -> Any:
    """OmegaConf containers -> plain Python (Hydra passes DictConfig unless _convert_=all)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(x, (DictConfig, ListConfig)):
            return OmegaConf.to_container(x, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with hydra
        pass
    return x


def opencv_safe_to_fork() -> None:
    """OpenCV's thread pool does not survive fork(): a DataLoader worker forked after this process used it (a resize
    during validation, say) can hang forever inside OpenCV. So from the datamodule's first hook on, the process that
    forks the workers runs OpenCV on its own thread, and the workers inherit that; parallelism comes from worker
    processes. Set here, not when `manga_cyclegan.data` is imported, so that colorizing keeps OpenCV's threads."""
    cv2.setNumThreads(0)


# --------------------------------------------------------------------------- datamodule
class UnpairedDataModule(pl.LightningDataModule):
    """Unpaired manga pages for CycleGAN training (see the module docstring for the layout
    and the pairing contract). All constructor arguments are plain values (Hydra-friendly,
    saved in checkpoints under ``datamodule_hyper_parameters``)."""

    def __init__(
        self,
        root: str | None = None,
        *,
        crop_size: int = 256,
        load_size: int | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
        flip: bool = True,
        batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        epoch_size: int | None = None,
        seed: int = 0,
        val_max_size: int | None = 512,
        val_pages: int | None = None,
        holdout: int = 4,
        mixed: str | None = None,
        mixed_split_dir: str | None = None,
        color_threshold: float = DEFAULT_COLOR_THRESHOLD,
        synthetic: dict | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_archive_members: int = DEFAULT_ARCHIVE_LIMITS.max_archive_members,
        max_member_bytes: int = DEFAULT_ARCHIVE_LIMITS.max_member_bytes,
        max_compression_ratio: float = DEFAULT_ARCHIVE_LIMITS.max_compression_ratio,
    ):
        super().__init__()
        # Values arrive typed: Hydra checks them against DataConfig (manga_cyclegan/config/groups.py) and converts
        # them to plain Python (`_convert_: all`), so checkpoints hold plain values. Only the sequences are
        # normalised (and paths made strings), for modules built by hand with OmegaConf containers or Paths.
        root, mixed, mixed_split_dir = (str(p) if p is not None else None for p in (root, mixed, mixed_split_dir))
        scale = tuple(_plain(scale))
        if len(scale) != 2:
            raise ValueError(f"scale must be (lo, hi), got {scale}")
        synthetic = _plain(synthetic)
        # logger=False: these keys (seed, batch_size...) may clash with the model's own hparams in the logger merge.
        self.save_hyperparameters(logger=False)

        self.root = Path(root).expanduser() if root is not None else None
        self.crop_size, self.load_size, self.scale, self.flip = crop_size, load_size, scale, flip
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.persistent_workers, self.epoch_size, self.seed = persistent_workers, epoch_size or None, seed
        self.val_max_size, self.val_pages, self.holdout = val_max_size or None, val_pages, holdout
        self.mixed = Path(mixed).expanduser() if mixed is not None else None
        self.mixed_split_dir = Path(mixed_split_dir).expanduser() if mixed_split_dir is not None else None
        self.color_threshold = color_threshold
        self.synthetic = synthetic
        self.max_pixels = max_pixels
        self.archive_limits = ArchiveLimits(max_archive_members, max_member_bytes, max_compression_ratio)
        #: Where the training pages are: ROOT/trainA and ROOT/trainB, or the two halves of the mixed folder.
        self.layout = DataLayout(self.root, mixed=self.mixed, split_dir=self.mixed_split_dir,
                                 color_threshold=self.color_threshold, max_pixels=self.max_pixels,
                                 limits=self.archive_limits)

        # Missing root/mixed is reported by prepare_data()/setup(), not here: instantiating the
        # module from a config (e.g. to inspect it) must not need the data to exist.

        self.train_dataset: UnpairedPageDataset | None = None
        self.val_dataset: PageValDataset | None = None
        self.train_pages_a: list[PageRef] = []
        self.train_pages_b: list[PageRef] = []
        self.val_page_refs: list[PageRef] = []
        #: ``(page, reason)`` of every page left out at setup because it could not be read.
        self.unreadable_pages: list[tuple[PageRef, str]] = []
        self._meta: dict | None = None
        self._pages_a: list[PageRef] | None = None
        self._pages_b: list[PageRef] | None = None
        self._test_a: list[PageRef] | None = None
        self._train_sampler: UnpairedEpochSampler | None = None

    # ----------------------------------------------------------------- paths & metadata
    @property
    def split_dir(self) -> Path | None:
        """Where the mixed-folder split is written (``mixed_split_dir`` or ``<mixed>_split``)."""
        return self.layout.split_dir

    @property
    def meta(self) -> dict | None:
        """Parsed ``root/meta.json`` or None (read lazily; re-read until it exists)."""
        p = self.layout.meta_file
        if self._meta is None and p is not None and p.is_file():
            try:
                self._meta = json.loads(p.read_text(encoding="utf-8"))
            except ValueError as e:
                raise ValueError(f"'{p}' is not valid JSON ({e}); fix or delete it") from e
        return self._meta

    @property
    def skipped_pages(self) -> int:
        """Training pages that failed to decode and were replaced (all workers, this rank)."""
        return self.train_dataset.skipped_pages if self.train_dataset is not None else 0

    # ----------------------------------------------------------------- lightning hooks
    def prepare_data(self) -> None:
        """Runs once per node: generate the synthetic set / classify the mixed folder."""
        opencv_safe_to_fork()
        if self.synthetic is not None:
            if self.root is None:
                raise ValueError("data.synthetic needs data.root: the folder where the synthetic set is generated")
            from manga_cyclegan.data.synthetic import ensure_synthetic_set

            ensure_synthetic_set(self.root, **self.synthetic)
        if self.mixed is not None:
            self.layout.split()

    def setup(self, stage: str | None = None) -> None:
        """List and cheaply check pages; build the train set (``fit``) and the val set."""
        opencv_safe_to_fork()
        if stage in (None, "fit") and self.train_dataset is None:
            self._setup_train()
        if self.val_dataset is None:
            self._setup_val()

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        world, rank = self._world()
        sampler = UnpairedEpochSampler(self.train_dataset, num_replicas=world, rank=rank, seed=self.seed)
        if len(sampler) < self.batch_size:
            raise ValueError(
                f"Epoch length {len(self.train_dataset)} split over {world} process(es) gives "
                f"{len(sampler)} item(s) per process, fewer than batch_size={self.batch_size}: "
                f"no full batch (drop_last=True). Raise data.epoch_size or lower data.batch_size."
            )
        if self._train_sampler is not None:
            sampler.set_epoch(self._train_sampler.epoch)
        self._train_sampler = sampler
        return DataLoader(
            self.train_dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            drop_last=True,
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_dataset is None:
            self.setup("validate")
        if self.val_dataset is None or len(self.val_dataset) == 0:
            return []  # Lightning skips validation for an empty list
        workers = min(self.num_workers, len(self.val_dataset))
        return DataLoader(
            self.val_dataset,
            batch_size=1,  # pages keep their own size
            shuffle=False,
            num_workers=workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and workers > 0,
        )

    def color_references(self, max_pages: int = 16) -> list[np.ndarray]:
        """Up to ``max_pages`` colour pages (uint8 HxWx3) for unpaired metrics: pages of
        ``testB``, else of the training colour domain, evenly spread over the list and shrunk
        like validation pages. Unreadable pages are skipped."""
        pages: list[PageRef] = []
        test_b = self.layout.test_folder(TEST_B)
        if test_b is not None:
            pages = list_pages(test_b, limits=self.archive_limits)
        return self._spread_colour_pages(pages or self._domain_b(), max_pages)

    def training_color_pages(self, max_pages: int = 32) -> list[np.ndarray]:
        """Up to ``max_pages`` pages of the training colour domain (uint8 HxWx3; never testB), evenly spread over
        the list and shrunk like validation pages: what a model may learn the colours of the series from."""
        return self._spread_colour_pages(self._domain_b(), max_pages)

    def _spread_colour_pages(self, pages: list[PageRef], max_pages: int) -> list[np.ndarray]:
        if not pages or max_pages <= 0:
            return []
        pick = np.unique(np.linspace(0, len(pages) - 1, min(max_pages, len(pages))).round().astype(int))
        out = []
        for j in pick:
            try:
                rgb = read_page(pages[j], "RGB", max_pixels=self.max_pixels, limits=self.archive_limits)
            except PageReadError as e:
                log.warning("Skipping unreadable colour page: %s", e)
                continue
            out.append(np.ascontiguousarray(resize_to_max_side(rgb, self.val_max_size)))
        return out

    # ----------------------------------------------------------------- internals
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return int(trainer.world_size), int(trainer.global_rank)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_world_size(), torch.distributed.get_rank()
        return 1, 0

    def _checked(self, pages: list[PageRef], where: str) -> list[PageRef]:
        ok, bad = probe_pages(pages, self.max_pixels, limits=self.archive_limits)
        self.unreadable_pages.extend(bad)
        report_unreadable(f"'{where}'", bad, stacklevel=4)
        if not ok:
            raise ValueError(f"No readable page in '{where}' ({len(bad)} unreadable, e.g. {bad[0][0]}: {bad[0][1]})")
        return ok

    def _domain_a(self) -> list[PageRef]:
        """All readable domain-A pages (trainA, or the B/W part of the mixed folder)."""
        if self._pages_a is None:
            self._pages_a = self._checked(self.layout.train_pages("A"), self.layout.describe("A"))
        return self._pages_a

    def _domain_b(self) -> list[PageRef]:
        """All readable domain-B pages (trainB, or the colour part of the mixed folder)."""
        if self._pages_b is None:
            self._pages_b = self._checked(self.layout.train_pages("B"), self.layout.describe("B"))
        return self._pages_b

    def _test_pages(self) -> list[PageRef]:
        if self._test_a is None:
            self._test_a = []
            test_a = self.layout.test_folder(TEST_A)
            if test_a is not None:
                pages = list_pages(test_a, limits=self.archive_limits)
                if pages:
                    self._test_a = self._checked(pages, str(test_a))
        return self._test_a

    def _holdout_split(self) -> tuple[list[PageRef], list[PageRef]]:
        """``(train A pages, held-out A pages)``; nothing held out when testA exists."""
        a = self._domain_a()
        if self._test_pages():
            return a, []
        h = min(self.holdout, len(a) - 1)  # always keep at least one training page
        if h <= 0:
            return a, []
        held = set(np.random.default_rng(self.seed).choice(len(a), size=h, replace=False).tolist())
        return [p for j, p in enumerate(a) if j not in held], [p for j, p in enumerate(a) if j in held]

    def _setup_train(self) -> None:
        train_a, _ = self._holdout_split()
        train_b = self._domain_b()
        self.train_pages_a, self.train_pages_b = train_a, train_b
        tf_a = build_train_transform(1, self.crop_size, self.load_size, self.scale, self.flip)
        tf_b = build_train_transform(3, self.crop_size, self.load_size, self.scale, self.flip)
        self.train_dataset = UnpairedPageDataset(
            train_a, train_b, tf_a, tf_b, length=self.epoch_size, seed=self.seed, max_pixels=self.max_pixels,
            archive_limits=self.archive_limits,
        )
        log.info("Training on %d B/W and %d color pages, %d items per epoch",
                 len(train_a), len(train_b), len(self.train_dataset))

    def _setup_val(self) -> None:
        test = self._test_pages()
        if test:
            pages, base = test, self.layout.test_folder(TEST_A)
        else:
            _, pages = self._holdout_split()
            base = self.layout.domain_folder("A")
            if not pages:
                warnings.warn("No validation pages: no testA folder and holdout=0 (or a single trainA page).",
                              stacklevel=3)
        if self.val_pages is not None:
            pages = pages[: self.val_pages]
        names = [page_key(p, base) for p in pages]
        truths = labels = None
        label_dir = self.layout.test_folder(TEST_LABELS)
        if test and label_dir is not None:
            truths, labels = paired_truths(names, self.root / TEST_B, label_dir, self.archive_limits)
        self.val_page_refs = list(pages)
        self.val_dataset = PageValDataset(pages, names, self.val_max_size, truths=truths, labels=labels,
                                          max_pixels=self.max_pixels, archive_limits=self.archive_limits)
