"""Unpaired B/W (domain A) / colour (domain B) manga pages as a LightningDataModule.

Layout under ``root``::

    ROOT/trainA/     B/W pages (domain A, read as 1-channel "L")
    ROOT/trainB/     colour pages (domain B, read as RGB)
    ROOT/testA/      optional validation B/W pages (else ``holdout`` trainA pages are used)
    ROOT/testB/      optional colour truth for testA (paired set) / colour references
    ROOT/testLabels/ optional per-pixel class maps for testA (paired synthetic set)
    ROOT/meta.json   optional metadata, exposed as ``datamodule.meta``

Pages may be images or .cbz/.zip archives, in sub-folders too (see ``pages.list_pages``).

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
import os
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from manga_cyclegan.data.color_detect import DEFAULT_COLOR_THRESHOLD
from manga_cyclegan.data.datasets import (
    PageValDataset,
    UnpairedEpochSampler,
    UnpairedPageDataset,
)
from manga_cyclegan.io.pages import (
    DEFAULT_ARCHIVE_LIMITS,
    DEFAULT_MAX_PIXELS,
    LABEL_EXTENSIONS,
    ArchiveLimits,
    PageReadError,
    PageRef,
    list_pages,
    probe_pages,
    read_page,
)
from manga_cyclegan.data.transforms import (
    build_train_transform,
    resize_to_max_side,
)

__all__ = [
    "LAYOUT_HELP",
    "PageValDataset",
    "UnpairedDataModule",
    "UnpairedEpochSampler",
    "UnpairedPageDataset",
    "UnreadablePagesWarning",
]

log = logging.getLogger(__name__)

LAYOUT_HELP = """Expected layout:
  ROOT/trainA/*.png    (B/W pages, domain A)
  ROOT/trainB/*.png    (color pages, domain B)
  ROOT/testA/*.png     (optional: B/W validation pages; otherwise `holdout` trainA pages are used)
  ROOT/testB/, ROOT/testLabels/, ROOT/meta.json   (optional: paired synthetic set)
Pages: png/jpg/jpeg/webp/gif/bmp/tif/tiff files or .cbz/.zip archives, sub-folders allowed.
Or set data.mixed=FOLDER to split one mixed folder into B/W and color automatically."""

class UnreadablePagesWarning(UserWarning):
    """Some pages could not be read and were left out."""


def _plain(x: Any) -> Any:
    """OmegaConf containers -> plain Python (Hydra passes DictConfig unless _convert_=all)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(x, (DictConfig, ListConfig)):
            return OmegaConf.to_container(x, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with hydra
        pass
    return x


def _report_unreadable(where: str, bad: list[tuple[PageRef, str]], stacklevel: int = 3) -> None:
    if not bad:
        return
    examples = "\n".join(f"  - {r}: {why}" for r, why in bad[:5])
    more = f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else ""
    warnings.warn(
        UnreadablePagesWarning(
            f"{len(bad)} unreadable page(s) in {where} will be skipped "
            f"(re-export them as PNG/JPEG or remove them):\n{examples}{more}"
        ),
        stacklevel=stacklevel,
    )


def _page_key(ref: PageRef, base: Path | None) -> str:
    """Stable name of a page relative to its domain folder, without suffix (``ch1/007``)."""
    rel: Path
    if base is not None and ref.path != base:
        try:
            rel = ref.path.relative_to(base)
        except ValueError:
            rel = Path(ref.path.name)
    else:
        rel = Path(ref.path.name)
    key = rel.with_suffix("").as_posix()
    if ref.member is not None:
        key = f"{key}/{PurePosixPath(ref.member.replace(chr(92), '/')).with_suffix('').as_posix()}"
    return key


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
        root = str(root) if root is not None else None
        mixed = str(mixed) if mixed is not None else None
        mixed_split_dir = str(mixed_split_dir) if mixed_split_dir is not None else None
        scale = tuple(float(s) for s in _plain(scale))
        if len(scale) != 2:
            raise ValueError(f"scale must be (lo, hi), got {scale}")
        synthetic = _plain(synthetic)
        # After normalisation, so checkpoints hold plain values. logger=False: these keys
        # (seed, batch_size...) may clash with the model's own hparams in the logger merge.
        self.save_hyperparameters(logger=False)

        self.root = Path(root).expanduser() if root is not None else None
        self.crop_size = int(crop_size)
        self.load_size = int(load_size) if load_size is not None else None
        self.scale = scale
        self.flip = bool(flip)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.epoch_size = int(epoch_size) if epoch_size else None
        self.seed = int(seed)
        self.val_max_size = int(val_max_size) if val_max_size else None
        self.val_pages = int(val_pages) if val_pages is not None else None
        self.holdout = int(holdout)
        self.mixed = Path(mixed).expanduser() if mixed is not None else None
        self.mixed_split_dir = Path(mixed_split_dir).expanduser() if mixed_split_dir is not None else None
        self.color_threshold = float(color_threshold)
        self.synthetic = synthetic
        self.max_pixels = int(max_pixels)
        self.archive_limits = ArchiveLimits(int(max_archive_members), int(max_member_bytes),
                                            float(max_compression_ratio))

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
        self._mixed_b: list[PageRef] = []
        self._test_a: list[PageRef] | None = None
        self._train_sampler: UnpairedEpochSampler | None = None

    # ----------------------------------------------------------------- paths & metadata
    @property
    def split_dir(self) -> Path | None:
        """Where the mixed-folder split is written (``mixed_split_dir`` or ``<mixed>_split``)."""
        if self.mixed is None:
            return None
        return self.mixed_split_dir or self.mixed.parent / f"{self.mixed.stem}_split"

    @property
    def meta(self) -> dict | None:
        """Parsed ``root/meta.json`` or None (read lazily; re-read until it exists)."""
        if self._meta is None and self.root is not None:
            p = self.root / "meta.json"
            if p.is_file():
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
        if self.synthetic is not None:
            if self.root is None:
                raise ValueError("data.synthetic needs data.root: the folder where the synthetic set is generated")
            from manga_cyclegan.data.synthetic import ensure_synthetic_set

            ensure_synthetic_set(self.root, **self.synthetic)
        if self.mixed is not None:
            self._mixed_domains()

    def setup(self, stage: str | None = None) -> None:
        """List and cheaply check pages; build the train set (``fit``) and the val set."""
        if stage in (None, "fit") and self.train_dataset is None:
            self._setup_train()
        if self.val_dataset is None:
            self._setup_val()

    def set_epoch(self, epoch: int) -> None:
        """For loops without Lightning: select the epoch of the training pairing."""
        if self._train_sampler is not None:
            self._train_sampler.set_epoch(epoch)
        if self.train_dataset is not None:
            self.train_dataset.set_epoch(epoch)

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

    def test_dataloader(self) -> DataLoader | list:
        return self.val_dataloader()

    def color_references(self, max_pages: int = 16) -> list[np.ndarray]:
        """Up to ``max_pages`` colour pages (uint8 HxWx3) for unpaired metrics: pages of
        ``testB``, else of the training colour domain, evenly spread over the list and shrunk
        like validation pages. Unreadable pages are skipped."""
        pages: list[PageRef] = []
        if self.root is not None and (self.root / "testB").is_dir():
            pages = list_pages(self.root / "testB", limits=self.archive_limits)
        if not pages:
            pages = self._domain_b()
        if not pages or max_pages <= 0:
            return []
        pick = np.unique(np.linspace(0, len(pages) - 1, min(max_pages, len(pages))).round().astype(int))
        out = []
        for j in pick:
            try:
                rgb = read_page(pages[j], "RGB", max_pixels=self.max_pixels, limits=self.archive_limits)
            except PageReadError as e:
                log.warning("Skipping unreadable colour reference: %s", e)
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

    def _domain_folder(self, name: str, what: str) -> list[PageRef]:
        if self.root is None:
            raise ValueError(f"data.root is not set, so there is no ROOT/{name} folder ({what}); "
                             f"set data.root (or data.mixed).\n{LAYOUT_HELP}")
        folder = self.root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"Domain folder '{folder}' ({what}) does not exist.\n{LAYOUT_HELP}")
        pages = list_pages(folder, limits=self.archive_limits)
        if not pages:
            raise ValueError(f"Domain folder '{folder}' ({what}) contains no pages.\n{LAYOUT_HELP}")
        return self._checked(pages, str(folder))

    def _checked(self, pages: list[PageRef], where: str) -> list[PageRef]:
        ok, bad = probe_pages(pages, self.max_pixels, limits=self.archive_limits)
        self.unreadable_pages.extend(bad)
        _report_unreadable(f"'{where}'", bad, stacklevel=4)
        if not ok:
            raise ValueError(f"No readable page in '{where}' ({len(bad)} unreadable, e.g. {bad[0][0]}: {bad[0][1]})")
        return ok

    def _mixed_domains(self) -> tuple[list[PageRef], list[PageRef]]:
        from manga_cyclegan.data.mixed import split_mixed_folder

        assert self.mixed is not None and self.split_dir is not None
        if not self.mixed.exists():
            raise FileNotFoundError(f"Mixed folder '{self.mixed}' does not exist")
        return split_mixed_folder(self.mixed, self.split_dir, self.color_threshold, max_pixels=self.max_pixels,
                                  limits=self.archive_limits)

    def _domain_a(self) -> list[PageRef]:
        """All readable domain-A pages (trainA, or the B/W part of the mixed folder)."""
        if self._pages_a is None:
            if self.mixed is not None:
                a, b = self._mixed_domains()
                self._mixed_b = b
                if not a:
                    raise ValueError(f"The mixed folder '{self.mixed}' has no B/W page (domain A): every page "
                                     f"scored above color_threshold={self.color_threshold} (see "
                                     f"{self.split_dir}/B.txt). Raise data.color_threshold or add B/W pages.")
                self._pages_a = self._checked(a, f"{self.mixed} (B/W pages)")
            else:
                self._pages_a = self._domain_folder("trainA", "B/W pages, domain A")
        return self._pages_a

    def _domain_b(self) -> list[PageRef]:
        """All readable domain-B pages (trainB, or the colour part of the mixed folder)."""
        if self._pages_b is None:
            if self.mixed is not None:
                self._domain_a()  # runs the split
                if not self._mixed_b:
                    raise ValueError(f"The mixed folder '{self.mixed}' has no color page (domain B): no page "
                                     f"scored above color_threshold={self.color_threshold} (see "
                                     f"{self.split_dir}/A.txt). Lower data.color_threshold or add color pages.")
                self._pages_b = self._checked(self._mixed_b, f"{self.mixed} (color pages)")
            else:
                self._pages_b = self._domain_folder("trainB", "color pages, domain B")
        return self._pages_b

    def _test_pages(self) -> list[PageRef]:
        if self._test_a is None:
            self._test_a = []
            if self.root is not None and (self.root / "testA").is_dir():
                pages = list_pages(self.root / "testA", limits=self.archive_limits)
                if pages:
                    self._test_a = self._checked(pages, str(self.root / "testA"))
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
            pages, base = test, self.root / "testA"
        else:
            _, pages = self._holdout_split()
            base = self.mixed if self.mixed is not None else (self.root / "trainA" if self.root else None)
            if not pages:
                warnings.warn("No validation pages: no testA folder and holdout=0 (or a single trainA page).",
                              stacklevel=3)
        if self.val_pages is not None:
            pages = pages[: self.val_pages]
        names = [_page_key(p, base) for p in pages]
        truths = labels = None
        if test and self.root is not None and (self.root / "testLabels").is_dir():
            truths, labels = self._paired(names)
        self.val_page_refs = list(pages)
        self.val_dataset = PageValDataset(pages, names, self.val_max_size, truths=truths, labels=labels,
                                          max_pixels=self.max_pixels, archive_limits=self.archive_limits)

    def _paired(self, names: list[str]) -> tuple[list[PageRef], list[Path]]:
        """testB page and testLabels map with the same relative stem as each testA page."""
        assert self.root is not None
        tb_dir, lab_dir = self.root / "testB", self.root / "testLabels"
        truth_by_key = {}
        if tb_dir.is_dir():
            truth_by_key = {_page_key(r, tb_dir): r for r in list_pages(tb_dir, limits=self.archive_limits)}
        label_by_key: dict[str, Path] = {}
        for dirpath, dirnames, filenames in os.walk(lab_dir):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                p = Path(dirpath) / f
                if not f.startswith(".") and p.suffix.lower() in LABEL_EXTENSIONS:
                    label_by_key[p.relative_to(lab_dir).with_suffix("").as_posix()] = p
        missing = [n for n in names if n not in truth_by_key or n not in label_by_key]
        if missing:
            ex = ", ".join(missing[:5])
            raise ValueError(
                f"Paired validation set: {len(missing)} testA page(s) lack a testB page or a "
                f"testLabels map with the same name (e.g. {ex}). Each ROOT/testA/NAME.* needs "
                f"ROOT/testB/NAME.* and ROOT/testLabels/NAME.(png|npy); or remove ROOT/testLabels."
            )
        return [truth_by_key[n] for n in names], [label_by_key[n] for n in names]
