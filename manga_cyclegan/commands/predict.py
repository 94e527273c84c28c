"""`manga-colorize` (python predict.py): colorize pages, folders, globs or chapters as conf/predict.yaml says.
Exit code 0 when every page was done or skipped, 1 when any failed (the summary lists them), 2 when the command
itself is wrong (a key, a value, a missing checkpoint or input, an unwritable output)."""

import hydra
from omegaconf import DictConfig

from manga_cyclegan.commands import CONFIGS
from manga_cyclegan.config.commands import COMMANDS
from manga_cyclegan.config.errors import RunError, errors_reported_in_one_line, startup_errors_explained
from manga_cyclegan.predict.run import predict
from manga_cyclegan.predict.sinks import OutputError


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="predict")
def task(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            summary = predict(cfg)
        except (FileNotFoundError, ValueError, OutputError) as e:
            raise RunError(str(e)) from e
    if summary.counts["failed"]:
        raise SystemExit(1)


def main() -> None:
    with startup_errors_explained(COMMANDS["predict"].script):
        task()
