"""Reading per-pixel class maps (the paired set's testLabels) with their raw stored values."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import ImageOps

from manga_cyclegan.io.decode import DEFAULT_MAX_PIXELS, open_checked, open_source
from manga_cyclegan.io.pages import PageReadError, PageRef

__all__ = ["LABEL_EXTENSIONS", "read_label_map"]

LABEL_EXTENSIONS = frozenset({".png", ".bmp", ".tif", ".tiff", ".npy"})


def read_label_map(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a per-pixel class map as ``int64`` ``HxW`` with the RAW stored values.

    Unlike :func:`read_page` nothing is colour-converted: palette ("P") images give their
    indices, "L"/"I;16"/"I" give their values, ``.npy`` files are loaded as is. An RGB(A) file
    is accepted only when its colour channels are equal (a grey map saved as RGB). Lossy
    formats (JPEG/WebP) are not accepted because compression changes class ids.
    Raises :class:`PageReadError`.
    """
    ref = PageRef(Path(path))
    suffix = ref.path.suffix.lower()
    if suffix not in LABEL_EXTENSIONS:
        raise PageReadError(ref, f"unsupported label map format '{suffix}'",
                            hint="Save label maps as lossless PNG (mode L/P/I;16) or .npy")
    try:
        if suffix == ".npy":
            arr = np.load(ref.path, allow_pickle=False)
        else:
            with open_source(ref, whole=True) as fh:
                im = open_checked(ref, fh, max_pixels)
                with im:
                    im.load()
                    try:
                        im = ImageOps.exif_transpose(im) or im
                    except Exception:  # noqa: BLE001
                        pass
                    arr = np.asarray(im)
        if arr.ndim == 3:
            chans = arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]
            if not all(np.array_equal(chans[..., 0], chans[..., c]) for c in range(1, chans.shape[2])):
                raise PageReadError(ref, f"label map has {arr.shape[2]} different channels",
                                    hint="Save label maps single-channel (mode L/P/I;16) or .npy")
            arr = chans[..., 0]
        if arr.ndim != 2:
            raise PageReadError(ref, f"label map must be 2-D, got shape {arr.shape}",
                                hint="Save label maps as HxW arrays")
        if not np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_):
            raise PageReadError(ref, f"label map has non-integer dtype {arr.dtype}",
                                hint="Save label maps with integer class ids")
        return arr.astype(np.int64)
    except PageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure must name the file
        raise PageReadError(ref, f"{type(e).__name__}: {e}",
                            hint="Re-export the label map as PNG or .npy") from e
