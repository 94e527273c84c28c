"""Screened pseudo-pairs: the identity term's gray pages printed the way B/W manga is, with a dot screen.

The pseudo-pair G_AB(gray(real_B)) -> real_B teaches colorization of a color page's luma, a smooth gray. The pages
G_AB colorizes are printed with screentone, whose dots the descreen turns into their tone only in part, and the
less the coarser the screen is against the drawing (a page drawn small on a screen of the usual pitch). Printing
the gray with a clustered-dot screen first, as halftoning does (one dot per cell of the screen, its area the
cell's darkness), at a random pitch and angle, shows the pseudo-pairs as screened pages at every pitch the range
covers. The screen is generic (a rotated cosine spot function with its thresholds equalized so a dot's area is
the darkness), not any one page set's. Line art stays solid, as printed: pixels at or next to near-black ink keep
their gray (a line's anti-aliased edge screened would come out dotted).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# Sub-pixel samples per axis: a dot's edge falls between pixels and is averaged as a scanner would.
SUPERSAMPLE = 4
# Samples of one cell of the spot function for its equalizing thresholds.
_CELL_SAMPLES = 256
# Gray (in [-1, 1]) at or below which a pixel is ink, not tone: 95% dark.
INK_GRAY = -0.9


def _spot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The clustered-dot spot function: 0 at the dot centres, 1 at the cell corners between them."""
    return (2 - torch.cos(u) - torch.cos(v)) / 4


def _equalizing_levels() -> torch.Tensor:
    """The spot function's values over one cell, sorted: the rank of a value among them is the share of the cell
    that turns dark before it, so thresholding that rank at the darkness inks exactly that share."""
    phase = (torch.arange(_CELL_SAMPLES, dtype=torch.float64) + 0.5) * (2 * math.pi / _CELL_SAMPLES)
    u, v = torch.meshgrid(phase, phase, indexing="ij")
    return _spot(u, v).flatten().sort().values.float()


_LEVELS = _equalizing_levels()


def dot_screen(gray: torch.Tensor, pitch: float, angle: float, phase: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """Gray pages [N, 1, H, W] in [-1, 1] (1 white) printed with a dot screen of `pitch` pixels per cell at
    `angle` degrees, `phase` (radians) shifting it: ink where the cell's equalized threshold is below the darkness,
    averaged over SUPERSAMPLE^2 sub-pixels. A screened page's mean over whole cells is its gray; ink lines (gray
    <= INK_GRAY) and the pixels next to them keep their gray."""
    if pitch <= 0:
        raise ValueError(f"the screen's pitch must be > 0 pixels, got {pitch}")
    n, _, h, w = gray.shape
    s = SUPERSAMPLE
    ys = (torch.arange(h * s, dtype=torch.float32, device=gray.device) + 0.5) / s
    xs = (torch.arange(w * s, dtype=torch.float32, device=gray.device) + 0.5) / s
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    theta = math.radians(angle)
    scale = 2 * math.pi / pitch
    u = (x * math.cos(theta) + y * math.sin(theta)) * scale + phase[0]
    v = (-x * math.sin(theta) + y * math.cos(theta)) * scale + phase[1]
    levels = _LEVELS.to(gray.device)
    threshold = torch.searchsorted(levels, _spot(u, v).contiguous()).float() / len(levels)
    darkness = (1 - gray.float()) / 2
    dark = threshold < F.interpolate(darkness, scale_factor=s, mode="nearest")
    screened = F.avg_pool2d(1 - 2 * dark.float(), s)
    lines = F.max_pool2d((gray <= INK_GRAY).float(), 3, stride=1, padding=1) > 0
    return torch.where(lines, gray.float(), screened).to(gray.dtype)


class RandomScreen:
    """Prints a share `probability` of the pseudo-pairs with a dot screen of a random pitch (log-uniform in
    `pitch`, pixels at the training scale), angle and phase. Every draw comes from the run's seed and the step, so
    a resumed run draws what the first one did."""

    def __init__(self, probability: float, pitch: tuple[float, float], seed: int):
        if not 0 <= probability <= 1:
            raise ValueError(f"pseudo_pair_screen must be in [0, 1], got {probability}")
        if len(pitch) != 2 or not 0 < pitch[0] <= pitch[1]:
            raise ValueError(f"screen_pitch must be [least, most] pixels with 0 < least <= most, got {list(pitch)}")
        self.probability, self.pitch, self.seed = probability, (float(pitch[0]), float(pitch[1])), seed

    def __call__(self, gray: torch.Tensor, step: int, rank: int = 0) -> torch.Tensor:
        if self.probability == 0:
            return gray
        rng = np.random.default_rng([self.seed, rank, step])
        if rng.random() >= self.probability:
            return gray
        pitch = math.exp(rng.uniform(math.log(self.pitch[0]), math.log(self.pitch[1])))
        angle = rng.uniform(0, 90)
        phase = tuple(rng.uniform(0, 2 * math.pi, 2))
        return dot_screen(gray, pitch, angle, phase)
