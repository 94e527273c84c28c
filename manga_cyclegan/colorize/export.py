"""Export the colorizer G_AB for sharing or for runtimes without PyTorch.

    python export.py ckpt=PATH [format=safetensors|onnx] [output=PATH]

`ckpt` is any file `load_colorizer` reads (training checkpoint, exported safetensors, reference state dict);
the output goes next to it with the format's suffix unless `output` says otherwise.

- safetensors: the generator's tensors with its architecture and training scale in the metadata; read back
  by `manga_cyclegan.colorize.weights.load_colorizer`, with identical outputs.
- onnx (needs the `onnx` extra): input "page" float32 [N, C_in, H, W] in [-1, 1], output "color"
  [N, 3, H, W] in [-1, 1]; batch, height and width are dynamic, pages must be at least `min_page_size` pixels
  on each side (5 for the paper's generator: at quarter resolution the residual blocks' reflection padding needs
  2 pixels). The architecture and training scale are in
  the model's metadata_props under "manga_cyclegan". Checked against PyTorch with onnxruntime after writing:
  fp32 agrees to within ONNX_TOLERANCE (the README gives the differences measured).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from manga_cyclegan.colorize.colorizer import Colorizer
from manga_cyclegan.colorize.weights import METADATA_KEY, colorizer_metadata
from manga_cyclegan.io.atomic import atomic_path
from manga_cyclegan.nets.padding import pad_to_multiple

OPSET = 18
ONNX_TOLERANCE = 1e-4


def min_page_size(generator: nn.Module) -> int:
    """The smallest page side the exported model takes: one more than the generator's size multiple (5 for the
    paper's two stride-2 stages). A side of the multiple itself is 1 pixel at the bottom resolution, which the
    residual blocks' ReflectionPad2d(1) cannot pad; torch.export then fails (its report of that constraint even
    crashes: "Cannot create Dim with inconsistent min")."""
    return generator.spec.size_multiple + 1



class PaddedGenerator(nn.Module):
    """The generator's forward with its padding done unconditionally: pad to its size multiple, run, crop back.

    ResnetGenerator.forward pads only `if pad_h or pad_w`, a Python branch on the page size: torch.export keeps
    one side of it, guarded by (-H) % 4 != 0, and so refuses a dynamic height. Padding by (-H) % 4 always, zero
    when H is a multiple of 4, is the same computation without the branch. (Reflection pads need pad < size,
    which holds for pages of at least `min_page_size`, so the generator's "replicate" case never arises.)
    """

    def __init__(self, colorizer: Colorizer):
        super().__init__()
        generator = colorizer.generator
        self.model = generator.model  # the same layers, so the ONNX initializers keep the state dict's names
        self.prepare = partial(colorizer.prepare, border="reflect")  # as predict prepares pages, without a branch
        self.multiple = generator.spec.size_multiple

    def forward(self, page: torch.Tensor) -> torch.Tensor:
        h, w = page.shape[-2:]
        padded = pad_to_multiple(self.prepare(page), self.multiple, always=True)
        return self.model(padded)[..., :h, :w]


def export_onnx(colorizer: Colorizer, path: str | Path) -> Path:
    """Write the generator as ONNX (opset OPSET) with dynamic batch, height and width; atomic.

    Exporter: the dynamo one (torch.export + onnxscript), which works here once the forward has no branch on the
    page size (see PaddedGenerator). The example page has an odd size and a batch of 2, so no dimension is taken
    for a constant (torch.export specializes sizes 0 and 1). The TorchScript exporter (dynamo=False) also gives a
    correct model with PaddedGenerator, but it is deprecated.
    """
    import onnx_ir as ir

    generator = colorizer.generator.cpu().eval()
    example = torch.rand(2, generator.spec.in_channels, 37, 50) * 2 - 1
    dims = {
        0: torch.export.Dim("batch", min=1),
        2: torch.export.Dim("height", min=min_page_size(generator)),
        3: torch.export.Dim("width", min=min_page_size(generator)),
    }
    program = torch.onnx.export(
        PaddedGenerator(colorizer).eval(), (example,), input_names=["page"], output_names=["color"],
        opset_version=OPSET, dynamo=True, dynamic_shapes={"page": dims}, verbose=False,
    )
    # The output's sizes come out as the crop's formula (Min(height, 4 * ...)); they are the input's.
    program.model.graph.outputs[0].shape = ir.Shape(["batch", generator.spec.out_channels, "height", "width"])
    program.model.metadata_props[METADATA_KEY] = colorizer_metadata(colorizer)
    path = Path(path)
    with atomic_path(path) as tmp:
        # One self-contained file: external data would be named after the temporary file.
        program.save(tmp, external_data=False)
    return path


def onnx_max_abs_diff(colorizer: Colorizer, path: str | Path, size: tuple[int, int] = (61, 83)) -> float | None:
    """Max abs difference between onnxruntime on the ONNX file and PyTorch on one random page of `size`;
    None when onnxruntime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    generator = colorizer.generator.cpu().eval()
    page = torch.rand(1, generator.spec.in_channels, *size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        expected = generator(colorizer.prepare(page)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (color,) = session.run(["color"], {"page": page.numpy()})
    return float(np.abs(color - expected).max())
