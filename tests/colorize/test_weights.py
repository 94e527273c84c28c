"""Loading the colorizer from each format it is shared in, and the errors for everything else."""

from __future__ import annotations

import collections
import json
import os
import pickle

import pytest
import safetensors.torch
import torch

from manga_cyclegan.colorize.colorizer import Colorizer
from manga_cyclegan.colorize.weights import (
    infer_arch,
    load_colorizer,
    save_colorizer,
)
from manga_cyclegan.nets import ResnetGenerator
from tests.helpers import save_training_checkpoint


def reference_state_dict(generator: ResnetGenerator, data_parallel: bool = False) -> collections.OrderedDict:
    """The generator's weights as the reference CycleGAN saves them; `data_parallel` adds what old files carry:
    DataParallel's "module." prefix and InstanceNorm running statistics from before PyTorch 0.4."""
    state = collections.OrderedDict(generator.state_dict())
    if data_parallel:
        state = collections.OrderedDict((f"module.{k}", v) for k, v in state.items())
        state["module.model.2.running_mean"] = torch.zeros(8)
        state["module.model.2.running_var"] = torch.ones(8)
        state["module.model.10.conv_block.2.num_batches_tracked"] = torch.tensor(0)
    return state


def same_output(colorizer, generator, channels=1) -> bool:
    x = torch.rand(2, channels, 21, 26) * 2 - 1
    with torch.no_grad():
        return torch.equal(colorizer.generator(x), generator.eval()(x))


def test_training_checkpoint_gives_the_modules_colorizer_and_its_scale(tmp_path):
    model = save_training_checkpoint(tmp_path / "last.ckpt", load_size=96)
    colorizer = load_colorizer(tmp_path / "last.ckpt")
    assert colorizer.short_side == 96
    assert not colorizer.generator.training
    assert same_output(colorizer, model.G_AB)


@pytest.mark.parametrize("data_parallel", [False, True])
@pytest.mark.parametrize("legacy_format", [False, True])
def test_reference_state_dict_loads_with_the_architecture_its_tensors_imply(tmp_path, data_parallel, legacy_format):
    generator = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(reference_state_dict(generator, data_parallel), path, _use_new_zipfile_serialization=not legacy_format)
    colorizer = load_colorizer(path)
    assert colorizer.short_side is None  # the reference does not say at which scale it trained
    assert colorizer.generator.spec.as_dict() == {"in_channels": 3, "out_channels": 3, "ngf": 8, "n_blocks": 2,
                                                   "norm": "instance", "upsample": "transpose", "dropout": False,
                                                   "n_downsampling": 2}
    assert same_output(colorizer, generator, channels=3)


@pytest.mark.parametrize("arch", [
    {"norm": "batch"}, {"upsample": "resize"}, {"dropout": True}, {"n_blocks": 0},
    {"norm": "batch", "upsample": "resize", "dropout": True, "in_channels": 1},
])
def test_the_architecture_inferred_from_tensors_is_the_one_built(arch):
    generator = ResnetGenerator(**{"in_channels": 3, "out_channels": 3, "ngf": 4, "n_blocks": 2, **arch})
    assert infer_arch(generator.state_dict()) == generator.spec.as_dict()
    assert generator.spec.as_dict().items() >= arch.items()


def test_arch_overrides_apply_and_contradictions_name_the_difference(tmp_path):
    generator = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(reference_state_dict(generator), path)
    # What the tensors cannot tell is the caller's to say.
    assert load_colorizer(path, arch={"norm": "none", "ngf": None}).generator.spec.as_dict()["norm"] == "none"
    with pytest.raises(ValueError, match=r"model\.1\.weight \[8, 3, 7, 7\], the generator expects \[16, 3, 7, 7\] "
                                         r"\(ngf differs\?\)"):
        load_colorizer(path, arch={"ngf": 16})
    with pytest.raises(ValueError, match=r"missing keys: model\.12\.conv_block"):
        load_colorizer(path, arch={"n_blocks": 3})
    with pytest.raises(ValueError, match=r"\[8, 1, 7, 7\] \(in_channels differs\?\)"):
        load_colorizer(path, arch={"in_channels": 1})
    with pytest.raises(ValueError, match="unknown architecture keys"):
        load_colorizer(path, arch={"channels": 3})


def test_weights_that_do_not_fit_the_stated_architecture_name_key_and_shapes(tmp_path):
    model = save_training_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["ngf"] = 8  # hyperparameters that lie about the weights
    torch.save(checkpoint, tmp_path / "tampered.ckpt")
    with pytest.raises(ValueError, match=r"tampered\.ckpt does not fit ResnetGenerator\(.*ngf=8") as error:
        load_colorizer(tmp_path / "tampered.ckpt")
    assert "checkpoint has model.1.weight [4, 1, 7, 7], the generator expects [8, 1, 7, 7] (ngf differs?)" in str(error.value)

    state = reference_state_dict(model.G_AB)
    state["model.18.weight"] = torch.zeros(3, 5, 7, 7)  # the last conv, from a generator of another width
    torch.save(state, tmp_path / "odd_net_G_A.pth")
    with pytest.raises(ValueError, match=r"model\.18\.weight \[3, 5, 7, 7\], the generator expects \[3, 4, 7, 7\] "
                                         r"\(ngf differs\?\)"):
        load_colorizer(tmp_path / "odd_net_G_A.pth")


class Smuggler:
    """Unpickling this runs os.system: a stand-in for a hostile checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("name", ["evil.ckpt", "latest_net_G_A.pth"])
def test_a_file_carrying_pickled_code_is_refused_and_nothing_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    state = {"state_dict": {}, "hyper_parameters": {}} if name.endswith(".ckpt") else {"model.1.weight": torch.zeros(1)}
    torch.save({**state, "payload": Smuggler(marker)}, tmp_path / name)
    with pytest.raises(ValueError, match=rf"{name} was refused: .*arbitrary code.*posix\.system") as error:
        load_colorizer(tmp_path / name)
    assert isinstance(error.value, pickle.UnpicklingError)  # what torch.load raised, for callers that caught that
    assert not marker.exists()


def write_foreign_files(tmp_path) -> dict[str, type]:
    """Files that are no colorizer, by name, with the error each should give."""
    (tmp_path / "noise.ckpt").write_bytes(os.urandom(4096))
    (tmp_path / "config.json").write_text(json.dumps({"ngf": 64, "weights": [1, 2, 3]}))
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "folder.ckpt").mkdir()
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    torch.save({"step": 3}, tmp_path / "notes.pth")
    safetensors.torch.save_file({"embedding": torch.zeros(2)}, tmp_path / "other.safetensors")
    (tmp_path / "cut.ckpt").write_bytes((tmp_path / "other.pt").read_bytes()[:200])
    names = ["noise.ckpt", "config.json", "empty.pth", "other.pt", "notes.pth", "other.safetensors", "cut.ckpt"]
    return {**dict.fromkeys(names, ValueError), "folder.ckpt": IsADirectoryError, "missing.ckpt": FileNotFoundError}


def test_files_that_are_no_colorizer_get_errors_naming_them_and_the_accepted_formats(tmp_path):
    for name, error_type in write_foreign_files(tmp_path).items():
        with pytest.raises(error_type) as error:
            load_colorizer(tmp_path / name)
        message = str(error.value)
        assert name in message and "Accepted formats" in message, message
        assert "reference CycleGAN" in message and ".safetensors" in message


def test_an_exported_colorizer_of_a_newer_format_is_refused(tmp_path):
    path = save_colorizer(Colorizer(ResnetGenerator(1, 3, ngf=4, n_blocks=1)), tmp_path / "c.safetensors")
    info = json.loads(safetensors.safe_open(path, "pt").metadata()["manga_cyclegan"])
    safetensors.torch.save_file(safetensors.torch.load_file(path), path,
                                metadata={"manga_cyclegan": json.dumps({**info, "format_version": 99})})
    with pytest.raises(ValueError, match="format version 99"):
        load_colorizer(path)

