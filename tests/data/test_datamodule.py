"""Unpaired datasets, sampler, transforms and the LightningDataModule."""

from __future__ import annotations

import json
import sys
import types
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from manga_cyclegan.color import to_uint8
from manga_cyclegan.data import layout as layout_mod
from manga_cyclegan.data import mixed as mixed_mod
from manga_cyclegan.data.datamodule import UnpairedDataModule
from manga_cyclegan.data.datasets import UnpairedEpochSampler, UnpairedPageDataset
from manga_cyclegan.data.layout import (
    LAYOUT_HELP,
    TEST_A,
    TEST_B,
    TRAIN_A,
    TRAIN_B,
    DataLayout,
    default_split_dir,
    missing_domain_folders,
    optional_folder,
)
from manga_cyclegan.data.mixed import split_mixed_folder
from manga_cyclegan.data.transforms import build_eval_transform, build_train_transform
from manga_cyclegan.data.unreadable import UnreadablePagesWarning
from manga_cyclegan.io.pages import PageRef


def _save(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def make_root(tmp_path: Path, n_a: int = 5, n_b: int = 3, size=(40, 48), seed: int = 0) -> Path:
    """Textured pages so different crops/pages give different tensors."""
    rng = np.random.default_rng(seed)
    root = tmp_path / "root"
    for j in range(n_a):
        _save(root / "trainA" / f"a{j}.png", rng.integers(0, 256, size, dtype=np.uint8))
    for j in range(n_b):
        _save(root / "trainB" / f"b{j}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


def make_ds(n_a: int, n_b: int, seed: int = 0, length=None) -> UnpairedPageDataset:
    pa = [PageRef(Path(f"a{j}.png")) for j in range(n_a)]
    pb = [PageRef(Path(f"b{j}.png")) for j in range(n_b)]
    tf = build_train_transform(1, 8)
    return UnpairedPageDataset(pa, pb, tf, build_train_transform(3, 8), length=length, seed=seed)


def pairs(ds: UnpairedPageDataset, epoch: int) -> list[tuple[int, int]]:
    return [ds.pair_indices(epoch, i) for i in range(len(ds))]


# --------------------------------------------------------------------------- pairing / sampler
@pytest.mark.parametrize("n_a,n_b", [(7, 3), (3, 7)])
def test_epoch_covers_larger_domain_and_cycles_smaller(n_a, n_b):
    ds = make_ds(n_a, n_b)
    assert len(ds) == max(n_a, n_b)
    for epoch in range(3):
        pa, pb = zip(*pairs(ds, epoch))
        big, small, n_small = (pa, pb, n_b) if n_a > n_b else (pb, pa, n_a)
        assert sorted(big) == list(range(max(n_a, n_b)))  # every page of the larger domain, once
        counts = Counter(small)
        assert set(counts) == set(range(n_small))  # no page of the smaller domain left out
        assert max(counts.values()) - min(counts.values()) <= 1  # cycled evenly


def test_epoch_size_overrides_length_and_streams_continue():
    ds = make_ds(10, 4, length=5)
    assert len(ds) == 5
    # two consecutive epochs of 5 together see all 10 A pages
    a_seen = [a for e in (0, 1) for a, _ in pairs(ds, e)]
    assert sorted(a_seen) == list(range(10))


def test_pairing_deterministic_and_changes_per_epoch():
    ds1, ds2 = make_ds(6, 4, seed=3), make_ds(6, 4, seed=3)
    assert pairs(ds1, 0) == pairs(ds2, 0)
    assert pairs(ds1, 5) == pairs(ds2, 5)
    assert pairs(ds1, 0) != pairs(ds1, 1)
    assert pairs(ds1, 0) != pairs(make_ds(6, 4, seed=4), 0)
    assert ds1.item_seeds(0, 2) == ds2.item_seeds(0, 2) != ds1.item_seeds(1, 2)


def test_sampler_yields_epoch_and_splits_across_two_replicas():
    ds = make_ds(7, 3)
    shards = []
    for rank in (0, 1):
        s = UnpairedEpochSampler(ds, num_replicas=2, rank=rank, seed=0)
        assert isinstance(s, torch.utils.data.DistributedSampler)  # Lightning keeps it in DDP
        s.set_epoch(3)
        items = list(s)
        assert len(items) == len(s) == 4
        assert all(e == 3 for e, _ in items)
        shards.append([i for _, i in items])
    assert set(shards[0]) | set(shards[1]) == set(range(7))
    assert not set(shards[0]) & set(shards[1]) - {0}  # only the wrap-around pad repeats
    assert ds.epoch == 3  # the sampler forwards the epoch to the dataset too


def test_batches_identical_with_0_and_2_workers(tmp_path):
    root = make_root(tmp_path, n_a=5, n_b=3)
    out = {}
    for workers in (0, 2):
        dm = UnpairedDataModule(str(root), crop_size=16, batch_size=2, num_workers=workers, holdout=0, seed=7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dm.setup("fit")
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(1)
        out[workers] = list(loader)
    assert len(out[0]) == len(out[2]) == 2  # 5 items, batch 2, drop_last
    for b0, b2 in zip(out[0], out[2]):
        assert torch.equal(b0["A"], b2["A"]) and torch.equal(b0["B"], b2["B"])


def test_train_batches_shapes_ranges_and_epoch_change(tmp_path):
    root = make_root(tmp_path, n_a=4, n_b=6)
    dm = UnpairedDataModule(str(root), crop_size=24, batch_size=3, holdout=1)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert len(loader) == 2  # max(3 train A, 6 B) = 6 items -> 2 batches of 3
    batch = next(iter(loader))
    assert batch["A"].shape == (3, 1, 24, 24) and batch["B"].shape == (3, 3, 24, 24)
    for t in batch.values():
        assert t.dtype == torch.float32 and t.min() >= -1 and t.max() <= 1
        assert t.min() < -0.5 and t.max() > 0.5  # really spans the range
    first = next(iter(loader))
    assert torch.equal(first["A"], batch["A"])  # same epoch -> same data
    loader.sampler.set_epoch(1)  # as Lightning does at each epoch
    assert not torch.equal(next(iter(loader))["B"], batch["B"])


def test_page_smaller_than_crop_is_padded_white_not_squashed(tmp_path):
    root = tmp_path / "root"
    _save(root / "trainA" / "tiny.png", np.zeros((20, 30), np.uint8))
    _save(root / "trainB" / "tiny.png", np.zeros((20, 30, 3), np.uint8))
    dm = UnpairedDataModule(str(root), crop_size=48, holdout=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    item = dm.train_dataset[(0, 0)]
    a = item["A"][0]
    assert a.shape == (48, 48)
    assert int((a == -1).sum()) == 20 * 30  # the page, pixel for pixel
    assert int((a == 1).sum()) == 48 * 48 - 20 * 30  # white paper around it
    ys, xs = torch.nonzero(a == -1, as_tuple=True)
    assert int(ys.max() - ys.min()) + 1 == 20 and int(xs.max() - xs.min()) + 1 == 30
    assert int((item["B"] == -1).all(0).sum()) == 600


def test_load_size_keeps_aspect_and_eval_transform_shrinks():
    ramp = np.tile(np.linspace(0, 255, 80).astype(np.uint8), (40, 1))  # 40 high x 80 wide
    tf = build_train_transform(1, 20, load_size=20, flip=False)
    out = to_uint8(tf(ramp, seed=0)).astype(int)
    assert out.shape == (20, 20)
    # Short side 40 -> 20 makes the page 20x40; a 20-wide crop spans about half the ramp.
    # (Squashed to 20x20 it would span all of it.)
    span = out[10].max() - out[10].min()
    assert 100 < span < 150
    ev = build_eval_transform(3, 30)(np.zeros((40, 80, 3), np.uint8))
    assert ev.shape == (3, 15, 30)
    assert build_eval_transform(1, 100)(ramp).shape == (1, 40, 80)  # never enlarged


# --------------------------------------------------------------------------- setup errors
def test_missing_or_empty_domain_folder_raises_naming_it(tmp_path):
    root = make_root(tmp_path)
    import shutil

    shutil.rmtree(root / "trainB")
    dm = UnpairedDataModule(str(root))
    with pytest.raises(FileNotFoundError) as ei:
        dm.setup("fit")
    assert str(root / "trainB") in str(ei.value) and "ROOT/trainB" in str(ei.value)
    (root / "trainB").mkdir()
    (root / "trainB" / "readme.txt").write_text("no pages here")
    with pytest.raises(ValueError, match="contains no pages") as ei:
        UnpairedDataModule(str(root)).setup("fit")
    assert str(root / "trainB") in str(ei.value) and "ROOT/trainA" in str(ei.value)
    with pytest.raises(ValueError, match="data.root"):
        UnpairedDataModule(None).setup("fit")  # constructing is fine; setup explains


@pytest.mark.filterwarnings("ignore:No validation pages")
def test_unreadable_pages_reported_once_and_skipped(tmp_path):
    root = make_root(tmp_path, n_a=3, n_b=2)
    (root / "trainA" / "broken.png").write_bytes(b"")
    (root / "trainA" / "fake.png").write_text("not an image")
    dm = UnpairedDataModule(str(root), crop_size=16, holdout=0)
    with pytest.warns(UnreadablePagesWarning) as rec:
        dm.setup("fit")
    msgs = [str(w.message) for w in rec if issubclass(w.category, UnreadablePagesWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("2 unreadable") and "broken.png" in msgs[0]
    assert {r.path.name for r in dm.train_pages_a} == {"a0.png", "a1.png", "a2.png"}
    assert len(dm.unreadable_pages) == 2
    assert len(dm.train_dataset) == 3


@pytest.mark.filterwarnings("ignore:No validation pages")
def test_page_failing_to_decode_during_training_is_replaced(tmp_path):
    root = make_root(tmp_path, n_a=4, n_b=2)
    good = np.asarray(Image.open(root / "trainA" / "a0.png"))
    data = (root / "trainA" / "a0.png").read_bytes()
    (root / "trainA" / "a9_truncated.png").write_bytes(data[: len(data) // 2])  # header ok, pixels cut
    dm = UnpairedDataModule(str(root), crop_size=16, holdout=0)
    dm.setup("fit")  # the cheap header check cannot see the truncation
    ds = dm.train_dataset
    bad = [r.path.name for r in dm.train_pages_a].index("a9_truncated.png")
    hits = [i for i in range(len(ds)) if ds.pair_indices(0, i)[0] == bad]
    assert hits
    items = [ds[(0, i)] for i in range(len(ds))]
    assert all(it["A"].shape == (1, 16, 16) for it in items)
    assert dm.skipped_pages >= 1
    assert good.shape == (40, 48)


def test_holdout_when_no_testA(tmp_path):
    root = make_root(tmp_path, n_a=6, n_b=2, size=(64, 40))
    dms = []
    for _ in range(2):
        dm = UnpairedDataModule(str(root), crop_size=16, holdout=2, val_max_size=32, seed=5)
        dm.setup("fit")
        dms.append(dm)
    dm = dms[0]
    assert len(dm.train_pages_a) == 4 and len(dm.val_page_refs) == 2
    assert not set(dm.train_pages_a) & set(dm.val_page_refs)
    assert dm.val_page_refs == dms[1].val_page_refs  # deterministic with the seed
    assert len(dm.train_dataset) == 4
    batch = next(iter(dm.val_dataloader()))
    assert batch["A"].shape == (1, 1, 32, 20)  # long side 64 -> 32, aspect kept
    assert batch["name"][0] in {"a0", "a1", "a2", "a3", "a4", "a5"}
    assert "labels" not in batch and "B_truth" not in batch


def test_paired_val_items_with_labels_and_meta(tmp_path):
    root = make_root(tmp_path, n_a=3, n_b=3)
    rng = np.random.default_rng(0)
    for name in ("p1", "p2"):
        _save(root / "testA" / f"{name}.png", rng.integers(0, 256, (60, 40), dtype=np.uint8))
        _save(root / "testB" / f"{name}.png", rng.integers(0, 256, (60, 40, 3), dtype=np.uint8))
        lab = np.zeros((60, 40), np.uint8)
        lab[:30] = 3
        lab[30:, 20:] = 7
        _save(root / "testLabels" / f"{name}.png", lab)
    (root / "meta.json").write_text(json.dumps({"classes": ["paper", "skin"], "n": 2}))
    dm = UnpairedDataModule(str(root), crop_size=16, val_max_size=30, val_pages=1)
    dm.setup("fit")
    assert len(dm.train_pages_a) == 3  # testA exists: nothing held out
    items = list(dm.val_dataloader())
    assert len(items) == 1
    it = items[0]
    assert it["name"] == ["p1"]
    assert it["A"].shape == (1, 1, 30, 20)
    assert it["B_truth"].shape == (1, 3, 30, 20)
    assert it["labels"].shape == (1, 30, 20) and it["labels"].dtype == torch.int64
    assert set(it["labels"].unique().tolist()) == {0, 3, 7}  # nearest: no blended ids
    assert it["labels"][0, 0, 0] == 3 and it["labels"][0, -1, -1] == 7
    assert dm.meta == {"classes": ["paper", "skin"], "n": 2}
    refs = dm.color_references(max_pages=5)
    assert len(refs) == 2 and all(r.dtype == np.uint8 and r.shape == (30, 20, 3) for r in refs)
    # what a model may learn the series' colours from: the training colour pages only, never testB
    train_pages = dm.training_color_pages(max_pages=5)
    assert len(train_pages) == 3 and all(p.shape == (25, 30, 3) for p in train_pages)
    # a testA page without a label is a clear error
    _save(root / "testA" / "p3.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="p3"):
        UnpairedDataModule(str(root)).setup("validate")


def test_no_val_pages_gives_empty_val_loader(tmp_path):
    root = make_root(tmp_path, n_a=2, n_b=2)
    dm = UnpairedDataModule(str(root), crop_size=16, holdout=0)
    with pytest.warns(UserWarning, match="No validation pages"):
        dm.setup("fit")
    assert dm.val_dataloader() == []
    assert dm.meta is None and len(dm.color_references(2)) == 2


def test_too_few_items_for_a_batch_is_explained(tmp_path):
    root = make_root(tmp_path, n_a=2, n_b=2)
    dm = UnpairedDataModule(str(root), crop_size=16, holdout=0, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    with pytest.raises(ValueError, match="epoch_size"):
        dm.train_dataloader()


def test_hydra_style_containers_are_normalised():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"scale": [0.5, 1.0], "synthetic": {"n": 2}})
    dm = UnpairedDataModule("/nonexistent", scale=cfg.scale, synthetic=cfg.synthetic)
    assert dm.scale == (0.5, 1.0) and type(dm.synthetic) is dict
    assert dm.hparams["scale"] == (0.5, 1.0) and type(dm.hparams["synthetic"]) is dict


def test_prepare_data_calls_synthetic_generator(tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("manga_cyclegan.data.synthetic")
    fake.ensure_synthetic_set = lambda root, **kw: calls.append((Path(root), kw))
    monkeypatch.setitem(sys.modules, "manga_cyclegan.data.synthetic", fake)
    dm = UnpairedDataModule(str(tmp_path / "syn"), synthetic={"n_pages": 4, "size": 64})
    dm.prepare_data()
    assert calls == [(tmp_path / "syn", {"n_pages": 4, "size": 64})]


# --------------------------------------------------------------------------- mixed folder
def _gray_page(v: int) -> np.ndarray:
    g = np.full((48, 40), 240, np.uint8)
    g[10:30, 5:35] = v
    g[::7] = 20
    return np.repeat(g[:, :, None], 3, axis=2)


def _make_mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    for j in range(3):
        _save(folder / f"bw{j}.png", _gray_page(60 * j))
    sep = _gray_page(100).astype(np.float32) @ np.array(
        [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]).T
    _save(folder / "old_sepia.jpg", np.clip(sep, 0, 255).astype(np.uint8))
    for j in range(2):
        c = _gray_page(50)
        c[24:] = (200, 60 + 80 * j, 40)
        _save(folder / f"color{j}.png", c)
    (folder / "broken.png").write_bytes(b"")
    return folder


def test_mixed_split_sorts_pages_and_writes_lists(tmp_path, monkeypatch):
    folder = _make_mixed(tmp_path)
    out = tmp_path / "split"
    with pytest.warns(UserWarning, match="broken.png"):
        a, b = split_mixed_folder(folder, out, 0.05)
    assert [r.path.name for r in a] == ["bw0.png", "bw1.png", "bw2.png", "old_sepia.jpg"]
    assert [r.path.name for r in b] == ["color0.png", "color1.png"]
    a_txt = (out / "A.txt").read_text()
    assert "bw1.png" in a_txt and "color0.png" not in a_txt
    assert "color1.png" in (out / "B.txt").read_text()
    assert "broken.png" in (out / "unreadable.txt").read_text()
    data = json.loads((out / "split.json").read_text())
    assert len(data["A"]) == 4 and len(data["B"]) == 2 and all("score" in e for e in data["B"])
    # unchanged folder + threshold: reused without decoding anything
    monkeypatch.setattr(mixed_mod, "read_page", lambda *a, **k: pytest.fail("re-decoded"))
    assert split_mixed_folder(folder, out, 0.05) == (a, b)


def test_datamodule_mixed_mode(tmp_path):
    folder = _make_mixed(tmp_path)
    out = tmp_path / "review"
    dm = UnpairedDataModule(None, mixed=str(folder), mixed_split_dir=str(out), crop_size=16, holdout=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.prepare_data()
        dm.setup("fit")
    assert (out / "split.json").is_file()
    assert len(dm.train_pages_a) == 3 and len(dm.val_page_refs) == 1
    assert [r.path.name for r in dm.train_pages_b] == ["color0.png", "color1.png"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["A"].shape == (1, 1, 16, 16) and batch["B"].shape == (1, 3, 16, 16)


# --------------------------------------------------------------------------- layout
def test_layout_of_a_plain_root(tmp_path):
    root = make_root(tmp_path, n_a=3, n_b=2)
    _save(root / "testA" / "t0.png", np.zeros((8, 8), np.uint8))
    layout = DataLayout(root)
    assert [r.path.name for r in layout.train_pages("A")] == ["a0.png", "a1.png", "a2.png"]
    assert [r.path.name for r in layout.train_pages("B")] == ["b0.png", "b1.png"]
    assert layout.domain_folder("A") == root / TRAIN_A and layout.describe("B") == str(root / TRAIN_B)
    assert layout.test_folder(TEST_A) == root / "testA" and layout.test_folder(TEST_B) is None
    assert layout.meta_file == root / "meta.json" and layout.split_dir is None
    assert optional_folder(None, TEST_A) is None and missing_domain_folders(root) == []
    import shutil

    shutil.rmtree(root / "trainB")
    assert missing_domain_folders(root) == ["trainB"] and missing_domain_folders(tmp_path) == ["trainA", "trainB"]
    with pytest.raises(FileNotFoundError, match="ROOT/trainB") as ei:
        layout.train_pages("B")
    assert str(root / "trainB") in str(ei.value) and LAYOUT_HELP in str(ei.value)
    with pytest.raises(ValueError, match="data.root is not set"):
        DataLayout(None).train_pages("A")
    with pytest.raises(ValueError, match="domain must be"):
        layout.train_pages("C")


def test_layout_of_a_mixed_folder_splits_it_once(tmp_path, monkeypatch):
    folder = _make_mixed(tmp_path)
    assert DataLayout(None, mixed=folder).split_dir == default_split_dir(folder) == tmp_path / "mixed_split"
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return split_mixed_folder(*args, **kwargs)

    monkeypatch.setattr(layout_mod, "split_mixed_folder", counted)
    layout = DataLayout(tmp_path / "root", mixed=folder, split_dir=tmp_path / "review")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bw, color = layout.train_pages("A"), layout.train_pages("B")
    assert [r.path.name for r in bw] == ["bw0.png", "bw1.png", "bw2.png", "old_sepia.jpg"]
    assert [r.path.name for r in color] == ["color0.png", "color1.png"]
    assert len(calls) == 1 and (tmp_path / "review" / "split.json").is_file()
    assert layout.domain_folder("A") == layout.domain_folder("B") == folder
    assert layout.describe("B") == f"{folder} (color pages)"
    assert layout.meta_file == tmp_path / "root" / "meta.json"  # the test folders stay under ROOT
    # A folder with no color page has domain A only.
    for j in range(2):
        (folder / f"color{j}.png").unlink()
    only_bw = DataLayout(None, mixed=folder, split_dir=tmp_path / "review2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(only_bw.train_pages("A")) == 4
    with pytest.raises(ValueError, match="no color page"):
        only_bw.train_pages("B")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DataLayout(None, mixed=tmp_path / "nope").train_pages("A")


def test_evaluate_training_pages_read_the_halves_of_a_mixed_folder(tmp_path):
    from manga_cyclegan.evaluate.command import training_pages

    folder = _make_mixed(tmp_path)
    dm = UnpairedDataModule(None, mixed=str(folder), mixed_split_dir=str(tmp_path / "review"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.prepare_data()
        color = training_pages(dm.layout, "B", "RGB", 8)
        bw = training_pages(dm.layout, "A", "L", 2)
    assert len(color) == 2 and all(p.shape == (48, 40, 3) for p in color)
    assert any(p[..., 0].astype(int).mean() - p[..., 2].astype(int).mean() > 20 for p in color)
    assert len(bw) == 2 and all(p.shape == (48, 40) for p in bw)  # spread: bw0 and bw2 of the four
    assert not (tmp_path / "mixed" / "trainA").exists()
    plain = make_root(tmp_path, n_a=3, n_b=2)
    assert len(training_pages(DataLayout(plain), "A", "L", 8)) == 3


# --------------------------------------------------------------------------- lightning
def test_lightning_fit_passes_epoch_to_the_pairing(tmp_path):
    import pytorch_lightning as pl

    root = make_root(tmp_path, n_a=4, n_b=3)
    dm = UnpairedDataModule(str(root), crop_size=16, batch_size=2, holdout=1)

    class Probe(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen: dict[int, list[torch.Tensor]] = {}

        def training_step(self, batch, idx):
            self.seen.setdefault(self.current_epoch, []).append(batch["A"].clone())
            return (self.w * batch["A"].mean()).sum()

        def validation_step(self, batch, idx):
            assert batch["A"].shape[:2] == (1, 1)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = Probe()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, datamodule=dm)
    assert sorted(model.seen) == [0, 1] and all(len(v) == 1 for v in model.seen.values())
    ds = dm.train_dataset
    for epoch in (0, 1):
        expected = torch.stack([ds[(epoch, i)]["A"] for i in range(2)])
        assert torch.equal(model.seen[epoch][0], expected)
    assert not torch.equal(model.seen[0][0], model.seen[1][0])
