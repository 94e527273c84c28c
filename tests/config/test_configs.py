"""Every config in manga_cyclegan/conf/ composes, and the runnable ones run (fast_dev_run / debug) on tiny data."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

import manga_cyclegan.config  # noqa: F401  (resolvers)
from manga_cyclegan.train.run import train
from tests.helpers import CONF, compose_train, run_script

TOP_LEVEL = {"train.yaml", "evaluate.yaml", "predict.yaml", "export.yaml", "app.yaml"}


def group_options() -> list[tuple[str, str]]:
    """(group, option) for every YAML file in a config group, read from disk."""
    options = []
    for path in sorted(CONF.rglob("*.yaml")):
        rel = path.relative_to(CONF)
        if str(rel) in TOP_LEVEL:
            continue
        options.append(("/".join(rel.parts[:-1]), path.stem))
    return options


@pytest.mark.parametrize("group, option", group_options(), ids=lambda x: str(x))
def test_every_config_composes(group, option, tmp_path):
    # The sweeper and launcher configs need their plugins (the `sweep` and `slurm` extras).
    if group == "hydra/launcher":
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    if group == "hparams_search":
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = compose_train([f"{group}={option}"], tmp_path)
    assert cfg.model._target_ == "manga_cyclegan.train.module.CycleGAN"
    assert cfg.data._target_ == "manga_cyclegan.data.datamodule.UnpairedDataModule"
    assert cfg.trainer.max_epochs >= 1


@pytest.mark.parametrize("name, required", [
    ("train", set()), ("evaluate", {"ckpt"}), ("predict", {"ckpt", "input"}), ("export", {"ckpt"}), ("app", {"ckpt"}),
])
def test_every_entry_point_config_composes(name, required):
    """The entry points' own configs compose and ask for exactly what their docs say (each is also run end to
    end by its tests: test_train, test_evaluate, test_predict, test_export, tests/web)."""
    assert f"{name}.yaml" in TOP_LEVEL
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(name)
    assert OmegaConf.missing_keys(cfg) == required


def test_default_run_is_the_demo_on_the_synthetic_set(tmp_path):
    cfg = compose_train([], tmp_path)
    assert cfg.data.synthetic is not None and cfg.data.root.endswith("data/synthetic")
    assert cfg.trainer.accelerator == "cpu"
    assert cfg.optimized_metric == "val/char_color_acc"


def test_onepiece_experiment_is_full_size_gpu_bf16(tmp_path):
    cfg = compose_train(["experiment=onepiece", "trainer=ddp", "trainer.devices=4"], tmp_path)
    assert (cfg.model.ngf, cfg.model.n_blocks, cfg.data.crop_size) == (64, 9, 256)
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.devices == 4
    assert cfg.trainer.strategy._target_.endswith("AgreeingDDPStrategy") and cfg.trainer.strategy.find_unused_parameters
    assert cfg.data.root.endswith("data/onepiece") and cfg.trainer.max_epochs == 200


def test_slurm_launcher_follows_the_trainer_layout(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    compose_train(["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"], tmp_path)
    launcher = HydraConfig.get().launcher
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 4, 4)


def test_the_papers_cyclegan_stays_selectable_and_the_default_adds_the_kept_levers(tmp_path):
    paper = compose_train(["experiment=custom", "model=cyclegan_paper"], tmp_path).model
    assert (paper.lambda_identity, paper.descreen_sigma, paper.gan_mode) == (0.5, 0.0, "lsgan")
    assert (paper.ngf, paper.n_blocks, paper.lr, paper.pool_size) == (64, 9, 2e-4, 50)
    default = compose_train(["experiment=custom"], tmp_path).model
    assert (default.lambda_identity, default.descreen_sigma, default.palette_classes) == (5.0, 1.5, 64)
    assert (default.palette_rebalance, paper.palette_rebalance) == (0.25, 0.5)
    assert paper.palette_classes == 0
    kept = ("lambda_identity", "descreen_sigma", "palette_classes", "palette_rebalance")
    assert {k: v for k, v in paper.items() if k not in kept} == {k: v for k, v in default.items() if k not in kept}


def test_a_model_chosen_alone_replaces_only_the_model(tmp_path):
    """`python train.py model=cyclegan_paper`: the paper's model with the paper's settings, on the demo's data and
    trainer; nothing of the demo's small model or schedule bleeds in."""
    paper = compose_train(["model=cyclegan_paper"], tmp_path)
    model = paper.model
    assert (model.ngf, model.ndf, model.n_blocks, model.lr) == (64, 64, 9, 2e-4)
    assert (model.epochs_constant, model.epochs_decay, paper.trainer.max_epochs) == (100, 100, 200)
    assert (model.lambda_identity, model.descreen_sigma) == (0.5, 0.0)
    demo = compose_train([], tmp_path)
    assert paper.data == demo.data and paper.trainer.accelerator == demo.trainer.accelerator == "cpu"
    assert (demo.model.ngf, demo.model.lr, demo.trainer.max_epochs) == (32, 5e-4, 3)


def test_no_argument_is_the_named_demo_experiment(tmp_path):
    assert compose_train([], tmp_path) == compose_train(["experiment=demo"], tmp_path)


def test_the_model_and_its_config_share_their_defaults(tmp_path):
    """ModelConfig is the one home of the defaults: the paper's config group and a CycleGAN built without
    arguments agree on every hyperparameter."""
    from manga_cyclegan.train.module import CycleGAN

    composed = compose_train(["model=cyclegan_paper"], tmp_path).model
    built = CycleGAN().hparams
    assert {k: v for k, v in composed.items() if k != "_target_"} == dict(built)
    assert built.ngf == CycleGAN().G_AB.spec.ngf == 64


@pytest.mark.slow  # trains each experiment's model for a batch, in process
@pytest.mark.parametrize("experiment", ["demo", "demo_long", "custom", "onepiece"])
def test_each_experiment_fast_dev_runs(experiment, tmp_path, tiny_synthetic_set, tiny_overrides):
    # The experiment's own model; only the data is pointed at the tiny set and the device at the CPU.
    overrides = [f"experiment={experiment}", "debug=fdr", "trainer.accelerator=cpu", "trainer.precision=32"]
    data = [o for o in tiny_overrides if o.startswith("data.") and not o.startswith("data.synthetic")]
    if not experiment.startswith("demo"):
        data += ["data.load_size=null", "data.scale=[1.0,1.0]", "data.pin_memory=false", "data.val_max_size=64"]
    else:
        data = [o for o in tiny_overrides if o.startswith("data.")]
    cfg = compose_train([*overrides, *data], tmp_path)
    metrics = train(cfg)
    # One training batch and one validation batch ran through the experiment's own model, and were scored...
    for name in ("loss/G", "loss/D", "loss/cycle_A", "loss/G_AB", "val/cycle_l1", "val/ciede2000"):
        assert name in metrics and math.isfinite(metrics[name]), (name, metrics)
    # ...the run folder holds the composed config and the checkpoint of that one step (two optimizer steps) of the
    # experiment's model; fast_dev_run writes no TensorBoard logs.
    saved = OmegaConf.load(tmp_path / "config.yaml")
    assert saved.model == OmegaConf.to_container(cfg.model, resolve=True)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 2
    assert {k: checkpoint["hyper_parameters"][k] for k in ("ngf", "n_blocks", "lr")} == \
        {k: cfg.model[k] for k in ("ngf", "n_blocks", "lr")}
    assert not (tmp_path / "tensorboard").exists()


@pytest.mark.slow
@pytest.mark.parametrize("debug", ["overfit", "limit"])
def test_debug_configs_run(debug, tmp_path, tiny_overrides):
    extra = ["trainer.max_epochs=2"] if debug == "overfit" else []
    run_script("train.py", [*tiny_overrides, f"debug={debug}", f"hydra.run.dir={tmp_path}", *extra])
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_optuna_search_runs_trials_and_optimizes_the_returned_metric(tmp_path, tiny_overrides):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    sweep = tmp_path / "optuna"
    run_script("train.py", [
        "-m", "hparams_search=optuna", *tiny_overrides, "trainer.max_epochs=1",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2", f"hydra.sweep.dir={sweep}",
    ])
    results = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in results and "best_value" in results


CONFIG_HINT = "`python train.py --cfg job [overrides]` prints the composed config"


@pytest.mark.slow  # train.py in a fresh interpreter, each
@pytest.mark.parametrize("overrides, named, hint", [
    (["model.no_such_key=1"], ["no_such_key"], True),  # Hydra's own message, then the hint
    (["model.ngf=abc"], ["could not be converted to Integer", "full_key: model.ngf"], True),  # ModelConfig's type
    (["experiment=custom", "data.root=/no/such/folder"], ["/no/such/folder does not exist", "ROOT/trainA/",
                                                          "ROOT/trainB/"], False),  # the layout instead
], ids=["unknown_key", "wrong_type", "missing_data_root"])
def test_config_errors_fail_before_any_work(overrides, named, hint, tmp_path):
    proc = run_script("train.py", [*overrides, f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode == 2
    for text in named:
        assert text in proc.stderr
    assert (CONFIG_HINT in proc.stderr) == hint
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "tensorboard").exists()


@pytest.mark.slow  # an entry point in a fresh interpreter, each
@pytest.mark.parametrize("script, args, named", [
    ("predict.py", [], ["ckpt is required"]),  # a mandatory value left ???
    ("predict.py", ["ckpt=NOPE", "input=NOPE", "working_size=abc"],  # a value outside its choices
     ["working_size='abc' is not allowed: use one of auto, native or a long side in pixels"]),
    ("predict.py", ["ckpt=NOPE", "input=NOPE", "quality=abc"],  # a wrong type, found while Hydra composes
     ["could not be converted to Integer", "full_key: quality"]),
    ("manga_cyclegan.evaluate", ["ckpt=NOPE", "precision=fp8"], ["precision='fp8' is not allowed"]),
], ids=["missing", "choice", "type", "evaluate"])
def test_commands_stop_on_a_wrong_config_with_exit_2_before_loading_the_model(script, args, named, tmp_path):
    """A wrong or missing value stops the command with exit 2 and a message naming the key, before the (missing)
    checkpoint is even looked at."""
    proc = run_script(script, [*args, f"hydra.run.dir={tmp_path}"], cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    for text in named:
        assert text in proc.stderr
    assert "Traceback" not in proc.stderr and "NOPE" not in proc.stderr


@pytest.mark.parametrize("config, args, named", [
    ("predict", ["consistency=typo"], "consistency='typo' is not allowed: use one of none, palette"),
    ("predict", ["format=tiff"], "format='tiff' is not allowed: use one of same, png, jpg, webp"),
    ("predict", ["mode=sepia"], "mode='sepia' is not allowed: use one of flat, lines, raw"),
    ("predict", ["tile_pixels=some"], "tile_pixels='some' is not allowed: use one of auto or a number of pixels"),
    ("predict", ["arch.norm=typo"], "arch.norm='typo' is not allowed: use one of instance, batch, none"),
    ("export", ["format=tflite"], "format='tflite' is not allowed: use one of safetensors, onnx"),
    ("export", [], "ckpt is required"),
    ("evaluate", [], "ckpt is required"),
    ("evaluate", ["data.flip=maybe"], "data.flip"),
    ("predict", ["max_pixels=lots"], "max_pixels"),
    ("predict", ["no_such_key=1"], "no_such_key"),
    ("train", ["model.norm=bogus"], "model.norm='bogus' is not allowed: use one of instance, batch, none"),
    ("train", ["model.nonfinite=ignore"], "model.nonfinite='ignore' is not allowed: use one of stop, skip"),
    ("train", ["data.crop_size=big"], "data.crop_size"),
    ("train", ["seed=abc"], "seed"),
], ids=["consistency", "format", "mode", "tile_pixels", "arch_norm", "export_format", "export_missing",
        "evaluate_missing", "data_type", "guard_type", "unknown_key", "model_choice", "model_nonfinite",
        "train_data_type", "train_seed_type"])
def test_each_command_schema_names_the_wrong_key(config, args, named, tmp_path):
    """The schemas of conf/train.yaml, predict.yaml, export.yaml and evaluate.yaml, in process: a value outside its choices or
    a missing one fails check_config, a wrong type or an unknown key fails composition, naming the key."""
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import OmegaConfBaseException

    from manga_cyclegan.config.commands import (
        EvaluateConfig,
        ExportConfig,
        PredictConfig,
    )
    from manga_cyclegan.config.errors import RunError
    from manga_cyclegan.config.groups import ModelConfig
    from manga_cyclegan.config.schema import check_config

    def check_train(cfg):
        check_config(cfg.model, ModelConfig, prefix="model.")

    def check_command(schema):
        return lambda cfg: check_config(cfg, schema)

    check = {"predict": check_command(PredictConfig), "export": check_command(ExportConfig),
             "evaluate": check_command(EvaluateConfig), "train": check_train}[config]
    required = {"predict": ["ckpt=NOPE", "input=NOPE"], "export": ["ckpt=NOPE"], "evaluate": ["ckpt=NOPE"],
                "train": []}[config]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config, overrides=[*(required if args else []), *args], return_hydra_config=True)
        with open_dict(cfg):  # as in a run: ${hydra:...} resolves, and the task sees no hydra node
            cfg.hydra.runtime.output_dir = cfg.hydra.runtime.cwd = str(tmp_path)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg.hydra
        with pytest.raises(RunError) as error:
            check(cfg)
        message = str(error.value)
    except (ConfigCompositionException, OmegaConfBaseException) as composing:
        message = f"{composing} {composing.__cause__}"
    assert named in message
