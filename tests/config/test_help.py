"""Each command's --help (manga_cyclegan/config/help.py): its own keys with their one line, the groups it composes,
nothing else; rendered through the real configs' hydra.help.template, in process, and once by the real script."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

import manga_cyclegan.config  # noqa: F401  (the command_help resolver)
from manga_cyclegan.config.commands import COMMANDS
from tests.helpers import REPO, run_script

# Keys and the words of their one line each command's help must show; what it must not mention.
SHOWN = {
    "predict": {"mode=flat": "flat colors under the page's own ink lines",
                "working_size=auto": "the size the generator runs at",
                "consistency=none": "palette fit on the run's pages",
                "ckpt=???": "a training checkpoint", "input=???": "a folder (recursive)"},
    "export": {"format=safetensors": "needs the `onnx` extra", "output=null": "next to the checkpoint"},
    "evaluate": {"baseline_fit_pages=64": "tone-lookup baseline", "json=null": "the table as JSON"},
    "train": {"seed=0": "seeds the weights' initialization", "ckpt_path=null": "to resume from"},
    "app": {"host=127.0.0.1": "another than loopback needs a token", "port=7860": "the port to listen on"},
}
GROUPS = {"predict": ["paths"], "export": [], "evaluate": ["data", "paths"], "app": ["paths"],
          "train": ["data", "model", "trainer", "callbacks", "logger", "paths", "experiment", "hparams_search",
                    "local", "debug"]}
NOT_SHOWN = ["_schema", "hydra/", "_target_"]
TRAINING_ONLY = ["trainer", "hparams_search", "experiment", "callbacks"]


def command_help(name: str, overrides: list[str] = ()) -> str:
    """The text Hydra prints for `name`'s --help: its composed hydra.help.template."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="manga_cyclegan.conf", version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
        return cfg.hydra.help.template.replace("$$", "$")


def line_of(text: str, start: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(start)]
    assert len(lines) == 1, f"no single line starting with {start!r} in:\n{text}"
    return lines[0]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_shows_the_commands_own_keys_each_with_its_line(name):
    text = command_help(name)
    assert text.startswith(f"{COMMANDS[name].console}: "), text
    for key, words in SHOWN[name].items():
        assert words in line_of(text, key)
    for word in NOT_SHOWN:
        assert word not in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_lists_exactly_the_groups_the_command_composes(name):
    text = command_help(name)
    section = text.split("Config groups")[1].split("\n\n")[0] if GROUPS[name] else ""
    listed = re.findall(r"^  (\w+)=", section, flags=re.M)
    assert listed == GROUPS[name]
    if name != "train":
        for word in TRAINING_ONLY:
            assert word not in text, f"{name}'s help mentions {word}"


def test_groups_show_their_options_and_the_choice_as_composed():
    text = command_help("train", ["experiment=onepiece"])
    assert "custom, demo, demo_long, onepiece" in line_of(text, "experiment=onepiece")
    assert "cpu, ddp, ddp_sim, default, gpu" in line_of(text, "trainer=")
    assert line_of(text, "data=folder").endswith("folder, synthetic")  # data_schema is no option
    assert "optuna" in line_of(text, "hparams_search=null")


def test_values_are_those_composed_and_choices_are_named():
    text = command_help("predict", ["mode=raw", "working_size=1024"])
    assert line_of(text, "mode=raw").endswith("[flat|lines|raw]")
    assert line_of(text, "working_size=1024").endswith("[auto|native, or a long side in pixels]")
    assert "in_channels, out_channels, ngf" in line_of(text, "arch.*")
    guards = text.split("max_pixels=64000000, max_archive_members=10000")[1].splitlines()[1]
    assert "decompression-bomb and zip-bomb guards" in guards


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_key_of_a_command_has_its_one_line(name):
    """A key added to a command's schema without `help` fails here, not silently in --help."""
    schema = COMMANDS[name].schema
    inherited = {f.name for base in schema.__mro__[1:] if dataclasses.is_dataclass(base)
                 for f in dataclasses.fields(base)}
    text = command_help(name)
    for f in dataclasses.fields(schema):
        if f.name in inherited or f.name in GROUPS[name] or dataclasses.is_dataclass(f.default_factory):
            continue
        assert f.metadata.get("help"), f"{schema.__name__}.{f.name} has no help line"
        assert f.metadata["help"] in line_of(text, f"{f.name}=")


def test_the_console_scripts_are_the_commands():
    """pyproject.toml's [project.scripts] and COMMANDS name the same commands, each a module's main()."""
    import importlib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {c.console for c in COMMANDS.values()}
    for name, command in COMMANDS.items():
        module, _, function = scripts[command.console].partition(":")
        assert module == f"manga_cyclegan.commands.{name}" and function == "main"
        assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.slow  # a fresh interpreter
def test_predict_help_from_a_checkout_is_its_own():
    proc = run_script("predict.py", ["--help"], timeout=120)
    assert "working_size=auto" in proc.stdout and "the size the generator runs at" in proc.stdout
    for word in [*TRAINING_ONLY, *NOT_SHOWN]:
        assert word not in proc.stdout
    assert proc.stderr == "" or "Traceback" not in proc.stderr, proc.stderr
