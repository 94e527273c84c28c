"""The five commands, one module each: compose the config (conf/<name>.yaml of this package), call one flow.

    manga-train      python train.py                      commands/train.py     -> train.run.train
    manga-colorize   python predict.py                    commands/predict.py   -> predict.run.predict
    manga-evaluate   python -m manga_cyclegan.evaluate    commands/evaluate.py  -> evaluate.command.run
    manga-export     python export.py                     commands/export.py    -> colorize.export, colorize.weights
    manga-app        python app.py                        commands/app.py       -> web.server (uvicorn)

The console scripts (pyproject.toml) and the root scripts call each module's `main`. Hydra names the job after the
module (hydra.job.name: train, predict, evaluate, export, app). Problems the user can fix end with one line and exit
code 2: while Hydra composes (`startup_errors_explained`) and inside the task (`RunError`).
"""

import warnings

import manga_cyclegan.config  # noqa: F401  (registers the config resolvers and schemas)

CONFIGS = "pkg://manga_cyclegan.conf"

# conf/train.yaml puts conf/ of the folder training starts in on Hydra's search path (for conf/local/default.yaml);
# Hydra warns where that folder does not exist, which is the usual case outside a checkout.
warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.*conf is not available")
