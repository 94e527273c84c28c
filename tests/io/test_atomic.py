"""The one atomic writer (manga_cyclegan.io.atomic): whole files or none, fsynced, with the user's permissions."""

from __future__ import annotations

import os

import pytest

from manga_cyclegan.io import atomic
from manga_cyclegan.io.atomic import atomic_path, atomic_write_bytes, stale_temp_files


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def test_new_files_get_the_permissions_of_any_new_file(tmp_path, umask_022):
    atomic_write_bytes(tmp_path / "page.png", b"png")
    assert (tmp_path / "page.png").stat().st_mode & 0o777 == umask_022
    os.umask(0o002)
    atomic_write_bytes(tmp_path / "shared.png", b"png")
    assert (tmp_path / "shared.png").stat().st_mode & 0o777 == 0o664


def test_a_library_writer_that_makes_an_owner_only_file_is_given_the_user_permissions(tmp_path, umask_022):
    with atomic_path(tmp_path / "weights.safetensors") as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"w")
        os.close(fd)
    assert (tmp_path / "weights.safetensors").stat().st_mode & 0o777 == umask_022


def test_the_file_and_its_folder_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("rename") or real_replace(a, b))
    atomic_write_bytes(tmp_path / "out" / "a.bin", b"data")
    assert events == ["fsync", "rename", "fsync"]
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"data"


def test_a_failed_write_keeps_the_old_file_and_names_the_temp_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError) as err, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"old"
    assert err.value.filename and err.value.filename.startswith(str(tmp_path / ".a.bin."))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_stale_temp_files_are_removed_only_when_asked(tmp_path):
    target = tmp_path / "last.ckpt"
    stale = tmp_path / f".last.ckpt.dead{atomic.TEMP_MARK}.ckpt"
    stale.write_bytes(b"partial")
    assert stale_temp_files(target) == [stale]
    atomic_write_bytes(target, b"1")
    assert stale.exists()
    with atomic_path(target, remove_stale=True) as tmp:
        tmp.write_bytes(b"2")
    assert not stale.exists() and target.read_bytes() == b"2"


def test_colorized_pages_and_chapters_get_the_user_permissions(colorizer, tmp_path, umask_022):
    import zipfile

    from PIL import Image

    from manga_cyclegan.colorize.colorizer import InferenceSettings
    from manga_cyclegan.predict.run import predict_pages
    from manga_cyclegan.predict.sinks import OutputOptions
    from tests.helpers import manga_page, png_bytes

    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(manga_page(40, 32)).save(source / "p1.png")
    with zipfile.ZipFile(source / "ch.cbz", "w") as zf:
        zf.writestr("001.png", png_bytes(manga_page(40, 32, seed=1)))
    summary = predict_pages(colorizer, str(source), tmp_path / "out", InferenceSettings(), OutputOptions(),
                            progress=False)
    assert summary.counts["colorized"] == 2, summary.report()
    for name in ("p1.png", "ch.cbz"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == umask_022
