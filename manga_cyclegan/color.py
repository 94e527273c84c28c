"""Color and tone foundations shared by every flow: one luma, one Lab, CIEDE2000, local tone, ink, chroma transfer.

Pages are uint8 numpy arrays (HxW gray, HxWx3 sRGB) or float tensors in [-1, 1] ([N, C, H, W]) inside the
networks. Luma is ITU-R BT.601 (0.299 R + 0.587 G + 0.114 B), the weights PIL and OpenCV use for RGB -> gray, so a
color page and its gray version agree everywhere. CIEDE2000 comes from scikit-image, page-level image work from
OpenCV; Lab is written out (below, why).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import skimage.color
import torch
import torch.nn.functional as F

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# A pixel darker than this luma (0..255) is ink: a colorization's lines, lettering and solid blacks.
INK_LUMA = 64


# ---- the form of a page ---------------------------------------------------------------------------------------

def as_uint8(x: Any, name: str = "image") -> np.ndarray:
    """`x` as uint8 0..255: bool -> 0/255, floats in [0, 1] scaled (round(x * 255)), integers in [0, 255] kept;
    anything else refused (convert [-1, 1] network outputs yourself)."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if a.size and (np.nanmin(a) < -1e-6 or np.nanmax(a) > 1 + 1e-6):
            raise ValueError(
                f"{name}: float images must be in [0, 1] (got range "
                f"[{np.nanmin(a):.3g}, {np.nanmax(a):.3g}]); pass uint8 instead"
            )
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError(f"{name}: integer images must be in [0, 255]")
        return a.astype(np.uint8)
    raise TypeError(f"{name}: unsupported dtype {a.dtype}")


def checked_page(page: Any, channels: int, name: str = "page", convert: bool = False) -> np.ndarray:
    """`page` in the form every flow works on: uint8 HxW gray (`channels` 1; HxWx1 is squeezed) or uint8 HxWx3
    sRGB (`channels` 3). With `convert`, other dtypes go through `as_uint8` and a gray HxW page is replicated to
    three channels; without, they are refused. ValueError naming `name`, the form expected and the one given."""
    a = as_uint8(page, name) if convert else np.asarray(page)
    if a.ndim == 3 and a.shape[-1] == 1 and channels == 1:
        a = a[..., 0]
    if convert and channels == 3 and a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    shape_ok = a.ndim == 2 if channels == 1 else (a.ndim == 3 and a.shape[-1] == 3)
    if not shape_ok or a.dtype != np.uint8:
        form = "HxW gray" if channels == 1 else "HxWx3 RGB"
        raise ValueError(f"{name}: expected a uint8 {form} page, got {a.dtype} {a.shape}")
    return a


# ---- luma --------------------------------------------------------------------------------------------------

def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> uint8 (...) Rec.601 luma, bit for bit the gray of PIL's RGB -> "L" (its 16-bit fixed
    point), which is how every B/W training page is decoded."""
    c = np.asarray(rgb, dtype=np.uint32)
    return ((c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def luma_float(rgb: Any) -> np.ndarray:
    """(..., 3) RGB (0..255) -> float32 (...) Rec.601 luma, unrounded."""
    return np.asarray(rgb, dtype=np.float32) @ np.array(LUMA_WEIGHTS, dtype=np.float32)


def to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] -> [N, 1, H, W] luma; works in [-1, 1] because the weights sum to one."""
    w = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """[N, 1, H, W] -> [N, 3, H, W] by replication, the gray page as a color image."""
    return gray.expand(-1, 3, -1, -1)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """One page [C, H, W] in [-1, 1] -> uint8 array HxW (C=1) or HxWx3 (C=3)."""
    array = ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWx3 -> [C, H, W] float in [-1, 1]."""
    tensor = torch.from_numpy(np.array(array, dtype=np.float32))  # a copy: decoded pages may be read-only
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    return (tensor / 127.5 - 1).contiguous()


# ---- Lab (written out) and CIEDE2000 (scikit-image) -----------------------------------------------------------
# Lab is written out rather than taken from skimage.color.rgb2lab: scikit-image's D65 white is the tabulated one,
# not its own sRGB matrix's, so its grays come out at a* = -0.002, b* = +0.005 instead of 0. They then fall on
# the other side of the a*b* histogram's bin edge at 0: the gray copy's ab_hist_dist on the synthetic test set
# moves from 0.621 to 0.546. Here the white is the matrix's own, and grays are neutral (|a*|, |b*| < 1e-12).

# sRGB (IEC 61966-2-1) linear RGB -> XYZ, D65.
_RGB2XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ2RGB = np.linalg.inv(_RGB2XYZ)
# Reference white = XYZ of sRGB (1,1,1), i.e. D65 as used by the matrix above.
_WHITE = _RGB2XYZ.sum(axis=1)  # ~ (0.95047, 1.0, 1.08883)
_EPS = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_SRGB_LUT = _srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0)


def rgb_to_lab(rgb: Any) -> np.ndarray:
    """sRGB (D65) → CIELAB (L* in [0, 100], a*, b* roughly in [-128, 127]).

    ``rgb`` has any leading shape ``(..., 3)``. ``uint8`` input is read as
    0..255; float input must be in ``[0, 1]`` (values outside are clipped).
    Returns float64 ``(..., 3)``. White → (100, 0, 0), black → (0, 0, 0),
    pure red → (53.24, 80.09, 67.20).
    """
    a = np.asarray(rgb)
    if a.shape[-1:] != (3,):
        raise ValueError(f"rgb_to_lab: last axis must be 3, got shape {a.shape}")
    if a.dtype == np.uint8:
        lin = _SRGB_LUT[a]
    else:
        lin = _srgb_to_linear(np.clip(a.astype(np.float64), 0.0, 1.0))
    xyz = lin @ (_RGB2XYZ / _WHITE[:, None]).T  # normalized by the white
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16.0) / 116.0)
    out = np.empty(a.shape, dtype=np.float64)
    out[..., 0] = 116.0 * f[..., 1] - 16.0
    out[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    out[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return out


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (float64) of uint8 sRGB (..., 3): `rgb_to_lab`'s first channel, from the luminance alone (L* depends
    on Y only), a fraction of the full conversion's cost on page-sized arrays."""
    a = np.asarray(rgb)
    weights = _RGB2XYZ[1] / _WHITE[1]
    y = _SRGB_LUT[a[..., 0]] * weights[0] + _SRGB_LUT[a[..., 1]] * weights[1] + _SRGB_LUT[a[..., 2]] * weights[2]
    f = np.where(y > _EPS, np.cbrt(y), (_KAPPA * y + 16.0) / 116.0)
    return 116.0 * f - 16.0


def lab_to_rgb(lab: Any, as_uint8: bool = False) -> np.ndarray:
    """CIELAB → sRGB (D65), inverse of :func:`rgb_to_lab`.

    Returns float in ``[0, 1]`` (out-of-gamut colors are clipped), or ``uint8``
    (rounded) when ``as_uint8``.
    """
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    f3 = f**3
    xyz = np.where(f3 > _EPS, f3, (116.0 * f - 16.0) / _KAPPA) * _WHITE
    lin = np.clip(xyz @ _XYZ2RGB.T, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1.0 / 2.4) - 0.055)
    srgb = np.clip(srgb, 0.0, 1.0)
    if as_uint8:
        return np.rint(srgb * 255.0).astype(np.uint8)
    return srgb


def ciede2000(lab1: Any, lab2: Any, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> np.ndarray:
    """CIEDE2000 color difference between Lab arrays (..., 3), broadcast against each other."""
    lab1, lab2 = np.broadcast_arrays(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))
    return skimage.color.deltaE_ciede2000(lab1, lab2, kL=kL, kC=kC, kH=kH, channel_axis=-1)


# ---- tone and ink of B/W pages ------------------------------------------------------------------------------

def local_tone(gray: Any, blur: int = 8, mode: str = "box") -> np.ndarray:
    """Local mean tone (float32, 0..255) of a gray page: screentone dots become their mean tone.

    "box": the mean over a blur x blur window, which exactly cancels a screen whose tile divides `blur`;
    "gaussian": sigma = blur / 3, less ripple when the screen period does not divide the window (scans).
    `blur` <= 1 returns the input. Borders are reflected (reflect-101).
    """
    g = np.asarray(gray, dtype=np.float32)
    if blur <= 1:
        return g.copy()
    if mode == "box":
        return cv2.blur(g, (int(blur), int(blur)), borderType=cv2.BORDER_REFLECT_101)
    if mode == "gaussian":
        return cv2.GaussianBlur(g, (0, 0), blur / 3.0, borderType=cv2.BORDER_REFLECT_101)
    raise ValueError(f"unknown blur mode {mode!r} (use 'box' or 'gaussian')")


def ink_mask(bw: Any, threshold: int = 128, sigma: float = 2.0, size: int = 9, ratio: float = 0.7,
             min_background: float = 100.0) -> np.ndarray:
    """Boolean mask of ink lines and lettering in a uint8 B/W page, without most screentone dots.

    Dots are dark pixels too, so darkness alone would stamp the screen onto a colorization. A dark pixel
    (< `threshold`) is ink where it is much darker than its lightest surroundings once the screen is blurred
    away: S = Gaussian blur (sigma about half a screen period) turns a screen into its flat tone while a 1-3 px
    line stays a dark valley; R = max of S over a `size` x `size` window. Ink = dark & (S < ratio * R) &
    (R >= min_background): in dark surroundings dots and lines cannot be told apart, so nothing there is ink.
    `sigma=0` gives the literal "every dark pixel is ink".
    """
    a = checked_page(bw, 1, "B/W page")
    dark = a < threshold
    if sigma <= 0 or size <= 1:
        return dark
    s = cv2.GaussianBlur(a.astype(np.float32), (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT_101)
    r = cv2.dilate(s, np.ones((int(size), int(size)), np.uint8), borderType=cv2.BORDER_REPLICATE)
    ink = dark & (s < ratio * r)
    if min_background > 0:
        ink &= r >= min_background
    return ink


# ---- chroma ---------------------------------------------------------------------------------------------------

def transfer_chroma(luma_page: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Full-resolution RGB with the luma of `luma_page` (uint8 HxW) and the chroma of `color` (any size), in YCbCr.

    Where full chroma would leave the RGB cube the channels are clipped, which shifts the luma there: scaling the
    chroma down instead would keep the luma exact but leave no color on pure black and white pixels, that is, on
    every pixel of a binary screentone page.
    """
    h, w = luma_page.shape
    ycrcb = cv2.cvtColor(color, cv2.COLOR_RGB2YCrCb)
    if ycrcb.shape[:2] != (h, w):
        ycrcb = cv2.resize(ycrcb, (w, h), interpolation=cv2.INTER_CUBIC)
    ycrcb[..., 0] = luma_page
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


# ---- descreening (torch, inside the colorizer) ------------------------------------------------------------------

def descreen(pages: torch.Tensor, sigma: float, border: str | None = None) -> torch.Tensor:
    """Gaussian low-pass of [N, C, H, W] pages (std `sigma` pixels): a screentone's dots become their mean tone,
    while lines and shapes stay. sigma <= 0 returns the pages as they are. `border`: the padding mode; None picks
    "reflect", or "replicate" for pages too small to reflect (export fixes "reflect": a traced graph has one mode).

    Written out (taps at -r..r, r = ceil(3 sigma), exp(-t^2 / 2 sigma^2) normalized, separable) because no kept
    library gives these numbers: torchvision's gaussian_blur convolves with the full 2-D kernel (49 taps instead of
    14 at sigma 1), only reflects, and differs by up to 3.3e-7 (measured at sigma 0.5-2 on a 512x384 page: a few
    uint8 pixels flip); kornia (not a dependency) has the separable blur and both borders but rounds its kernel
    otherwise, 9e-8 off at the default sigma 1.5. G_AB trains on descreened pages, so either would send training
    down another path and the committed figures would no longer reproduce."""
    if sigma <= 0:
        return pages
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=pages.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(pages.dtype)
    channels = pages.shape[1]
    h, w = pages.shape[-2:]
    mode = border or ("reflect" if radius < h and radius < w else "replicate")
    x = F.pad(pages, (radius, radius, radius, radius), mode=mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
