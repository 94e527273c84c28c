"""Sharing the colorizer G_AB: load it from any of three file formats, save it as safetensors.

Formats, told apart by content (the suffix is not trusted):

- a training checkpoint of this project (torch file, dict with `state_dict` and `hyper_parameters`): G_AB under
  the `G_AB.` prefix, rebuilt from the hyperparameters; `short_side` from the data's `load_size`, `stroke_width`
  from its "page_scale" entry (`manga_cyclegan.colorize.page_scale`);
- an exported colorizer (safetensors, written by `save_colorizer`): the generator's tensors, and its
  architecture, `short_side`, `descreen_sigma` and `stroke_width` as JSON in the metadata under "manga_cyclegan";
- a plain generator state dict (torch file, a dict of tensors), such as the reference CycleGAN's
  `latest_net_G_A.pth` (junyanz/pytorch-CycleGAN-and-pix2pix): the architecture is inferred from the tensors,
  the training scale is unknown (`short_side` None). A safetensors file without our metadata is read the same way.

Every torch file is read with `torch.load(weights_only=True)`: weights are data, and a file carrying pickled
code is refused before any of it runs.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from manga_cyclegan.colorize.colorizer import Colorizer
from manga_cyclegan.io.atomic import atomic_path
from manga_cyclegan.nets import ResnetGenerator
from manga_cyclegan.nets.generator import GeneratorSpec, spec_keys

METADATA_KEY = "manga_cyclegan"
FORMAT_VERSION = 1
# The architecture keys: GeneratorSpec's fields. All but the channels are training hyperparameters of G_AB.
ARCH_KEYS = spec_keys()
ACCEPTED = (
    "Accepted formats:\n"
    "  - a manga-cyclegan training checkpoint (.ckpt: a torch file with state_dict and hyper_parameters)\n"
    "  - an exported colorizer (.safetensors, from save_colorizer or `python export.py`)\n"
    "  - a plain generator state dict, e.g. the reference CycleGAN's latest_net_G_A.pth"
)
TORCH_ZIP_MAGIC = b"PK\x03\x04"
# torch.save's legacy (pre-1.6, non-zip) format starts with its magic number pickled at protocol 2; old reference
# CycleGAN weights are in it.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
# Buffers an InstanceNorm had before PyTorch 0.4 turned its running statistics off; old reference files hold them.
RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


class UnsafeCheckpointError(ValueError, pickle.UnpicklingError):
    """A file that holds pickled objects beyond plain data (tensors, numbers, strings, containers): not loaded.

    Also an UnpicklingError, the error torch.load itself raises, so callers that caught that keep working."""


def load_colorizer(
    path: str | Path, map_location: str | torch.device = "cpu", arch: Mapping | None = None
) -> Colorizer:
    """The colorizer G_AB in eval mode, on `map_location`, from any accepted format (see the module docstring).

    `arch` overrides the architecture the file states or implies (keys: ARCH_KEYS; a None value keeps it), for
    what the tensors cannot tell, such as norm "none" against "instance". An override the tensors contradict
    fails, naming the keys and shapes that differ.

    Raises FileNotFoundError / IsADirectoryError for no file, UnsafeCheckpointError (a ValueError) for a file
    with pickled code, ValueError for anything else that is not a colorizer of a known format.
    """

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}\n{ACCEPTED}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a weights file.\n{ACCEPTED}")
    overrides = _checked_arch({k: v for k, v in (arch or {}).items() if v is not None}, "arch")
    state, stated_arch, scale = _read(path, map_location)
    generator = build_generator(state, {**stated_arch, **overrides}, source=str(path))
    return Colorizer(generator.to(map_location), scale.get("short_side"), float(scale.get("descreen_sigma") or 0.0),
                     scale.get("stroke_width"))


def _read(path: Path, map_location) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(generator state dict, architecture the file states or implies, how pages are prepared: short_side and
    descreen_sigma where the file knows them) of a weights file."""
    with path.open("rb") as f:
        head = f.read(16)
    if _is_safetensors(head, path.stat().st_size):
        return _read_safetensors(path, map_location)
    if not head.startswith((TORCH_ZIP_MAGIC, TORCH_LEGACY_MAGIC)):
        raise _unknown(path, "neither a torch file nor safetensors")
    checkpoint = _torch_load(path, map_location)
    if isinstance(checkpoint, Mapping) and {"state_dict", "hyper_parameters"} <= checkpoint.keys():
        hparams = checkpoint["hyper_parameters"]
        prefix = "G_AB."
        state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
        if not state:
            raise _unknown(path, "a training checkpoint without G_AB weights")
        stated = {"in_channels": 1, "out_channels": 3, **{k: hparams[k] for k in ARCH_KEYS[2:] if k in hparams}}
        short_side = (checkpoint.get("datamodule_hyper_parameters") or {}).get("load_size")
        stroke = (checkpoint.get("page_scale") or {}).get("stroke_width")
        return state, stated, {"short_side": short_side, "descreen_sigma": hparams.get("descreen_sigma", 0.0),
                               "stroke_width": stroke}
    if isinstance(checkpoint, Mapping) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return _plain_state_dict(path, checkpoint)
    keys = list(checkpoint)[:5] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
    raise _unknown(path, f"a torch file holding neither a training checkpoint nor a generator state dict: {keys}")


def _plain_state_dict(path: Path, tensors: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """A bare generator state dict, architecture inferred, training scale unknown."""
    # DataParallel saves its wrapped module's keys under "module.".
    state = {k.removeprefix("module."): v for k, v in tensors.items()}
    if "model.1.weight" not in state:
        raise _unknown(path, f"tensors of something other than a generator: {list(state)[:5]}")
    return state, infer_arch(state), {}


def _is_safetensors(head: bytes, size: int) -> bool:
    """safetensors: an 8-byte little-endian header length, then that many bytes of JSON."""
    return len(head) > 8 and 0 < int.from_bytes(head[:8], "little") <= size - 8 and head[8:9] == b"{"


def _read_safetensors(path: Path, map_location) -> tuple[dict[str, torch.Tensor], dict, dict]:
    try:
        with safetensors.safe_open(path, framework="pt", device=str(map_location)) as f:
            state, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}  # noqa: SIM118 (not iterable)
    except Exception as err:  # safetensors raises its own SafetensorError and OSErrors for damaged files
        raise _unknown(path, f"a damaged safetensors file ({err})") from err
    if METADATA_KEY not in metadata:
        return _plain_state_dict(path, state)
    try:
        info = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as err:
        raise _unknown(path, f"an exported colorizer with damaged metadata ({err})") from err
    if info.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} is an exported colorizer of format version {info.get('format_version')}; this code reads "
            f"version {FORMAT_VERSION} (was it written by a newer manga-cyclegan?)"
        )
    scale = {"short_side": info.get("short_side"), "descreen_sigma": info.get("descreen_sigma", 0.0),
             "stroke_width": info.get("stroke_width")}
    return state, _checked_arch(info["arch"], f"{path} metadata"), scale


def _torch_load(path: Path, map_location):
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = str(err).splitlines()
        detail = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")
        raise UnsafeCheckpointError(
            f"{path} was refused: it holds pickled Python objects beyond plain data (tensors, numbers, strings, "
            f"containers), and unpickling those can run arbitrary code. torch.load(weights_only=True) said: "
            f"{detail.strip()}\nIf you trust its source, re-save only its tensors (a state dict) and load that."
        ) from err
    except (RuntimeError, EOFError) as err:
        raise _unknown(path, f"a damaged torch file ({err})") from err


def _unknown(path: Path, what: str) -> ValueError:
    return ValueError(f"{path} is not a manga-cyclegan training checkpoint or another known colorizer: {what}.\n{ACCEPTED}")


def _checked_arch(arch: Mapping, source: str) -> dict:
    unknown = set(arch) - set(ARCH_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown architecture keys {sorted(unknown)}; known: {', '.join(ARCH_KEYS)}")
    return dict(arch)


def infer_arch(state: Mapping[str, torch.Tensor]) -> dict:
    """The GeneratorSpec a generator state dict implies, as a dict (keys as in the reference implementation).

    Channels and ngf from the first and last convolutions, n_blocks from the `model.N.conv_block` entries,
    norm "batch" if the first norm layer has parameters, else "instance" ("none" leaves the same tensors: pass it
    as an override), upsample "resize" if the upsampling convs are nested (`model.N.2.weight`), else
    "transpose", dropout if it shifts each block's second conv from index 5 to 6, n_downsampling from the widest
    layer (the channels double at each stage).
    """
    def index(key: str) -> int:
        return int(key.split(".")[1])

    first = state["model.1.weight"]
    top_level_convs = [k for k in state if re.fullmatch(r"model\.\d+\.weight", k) and state[k].dim() == 4]
    widest = max(max(state[k].shape[:2]) for k in state if k.endswith("weight") and state[k].dim() == 4)
    blocks = sorted({index(k) for k in state if ".conv_block." in k})
    second_conv = state.get(f"model.{blocks[0]}.conv_block.6.weight") if blocks else None
    return {
        "in_channels": first.shape[1],
        "out_channels": state[max(top_level_convs, key=index)].shape[0],
        "ngf": first.shape[0],
        "n_blocks": len(blocks),
        "norm": "batch" if "model.2.weight" in state else "instance",
        "upsample": "resize" if any(re.fullmatch(r"model\.\d+\.2\.weight", k) for k in state) else "transpose",
        "dropout": second_conv is not None and second_conv.dim() == 4,
        # The channels double at each stride-2 stage: ngf * 2 ** n_downsampling at the bottom.
        "n_downsampling": max(1, (widest // first.shape[0]).bit_length() - 1),
    }


def build_generator(state: Mapping[str, torch.Tensor], arch: Mapping, source: str) -> ResnetGenerator:
    """ResnetGenerator(**arch) in eval mode holding `state`; ValueError naming every mismatch if it does not fit.

    Without batch norm, InstanceNorm running statistics in `state` (old reference files) are dropped, as the
    reference's own loader does: the layers have none.
    """
    generator = ResnetGenerator.from_spec(GeneratorSpec(**arch))
    if generator.spec.norm != "batch":
        state = {k: v for k, v in state.items() if not k.endswith(RUNNING_STATS)}
    check_state_dict(generator, state, f"{source} does not fit ResnetGenerator({_format_arch(arch)})")
    generator.load_state_dict(state)
    return generator.eval()


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], context: str, limit: int = 8) -> None:
    """Nothing if `state` loads into `model` strictly; else ValueError starting with `context`, listing the missing
    keys, the unexpected ones and those whose shapes differ (both shapes, and the argument that likely differs)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    differ = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if not (missing or unexpected or differ):
        return
    last_conv = max((k for k in expected if re.fullmatch(r"model\.\d+\.weight", k)), key=lambda k: int(k.split(".")[1]))
    lines = [context + ":"]
    for title, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
            lines.append(f"  {title} keys: {', '.join(keys[:limit])}{more}")
    for key in differ[:limit]:
        got, want = list(state[key].shape), list(expected[key].shape)
        lines.append(f"  checkpoint has {key} {got}, the generator expects {want}{_hint(key, got, want, last_conv)}")
    if len(differ) > limit:
        lines.append(f"  and {len(differ) - limit} more keys whose shapes differ")
    raise ValueError("\n".join(lines))


def _hint(key: str, got: list[int], want: list[int], last_conv: str) -> str:
    """Which generator argument a shape difference of the first or last convolution points to."""
    names = {"model.1.weight": ("ngf", "in_channels"), last_conv: ("out_channels", "ngf")}.get(key, ())
    differing = [name for name, a, b in zip(names, got, want) if a != b]
    return f" ({' and '.join(differing)} {'differs' if len(differing) == 1 else 'differ'}?)" if differing else ""


def _format_arch(arch: Mapping) -> str:
    return ", ".join(f"{k}={arch[k]!r}" for k in ARCH_KEYS if k in arch)


def colorizer_metadata(colorizer: Colorizer) -> str:
    """The JSON stored with an exported colorizer: format version, architecture, training scale and descreen."""
    arch = colorizer.generator.spec.as_dict()
    return json.dumps({"format_version": FORMAT_VERSION, "arch": arch, "short_side": colorizer.short_side,
                       "descreen_sigma": colorizer.descreen_sigma, "stroke_width": colorizer.stroke_width})


def save_colorizer(colorizer: Colorizer, path: str | Path) -> Path:
    """Write the colorizer as safetensors that `load_colorizer` reads back exactly; atomic (see `atomic_path`)."""
    state = {k: v.detach().cpu().contiguous() for k, v in colorizer.generator.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(state, tmp, metadata={METADATA_KEY: colorizer_metadata(colorizer)})
    return path
