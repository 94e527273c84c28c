"""`manga-app` (python app.py): the local web page, as conf/app.yaml says; what it serves:
manga_cyclegan.web.server. Ctrl-C stops it and removes the pages it kept for its tabs."""

import secrets
import shutil
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig

from manga_cyclegan.colorize.colorizer import InferenceSettings, resolve_device
from manga_cyclegan.colorize.weights import load_colorizer
from manga_cyclegan.commands import CONFIGS
from manga_cyclegan.config.commands import COMMANDS, AppConfig
from manga_cyclegan.config.errors import RunError, config_hint, errors_reported_in_one_line, startup_errors_explained
from manga_cyclegan.config.precision import resolve_precision
from manga_cyclegan.config.schema import PageGuards, arch_overrides, check_config
from manga_cyclegan.predict.sinks import OutputOptions

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(cfg: DictConfig) -> None:
    import uvicorn

    from manga_cyclegan.web.server import Chapters, create_app

    check_config(cfg, AppConfig, hint=f"\n{config_hint(COMMANDS['app'].script)}")
    token = cfg.token
    if cfg.host not in LOOPBACK and not token:
        token = secrets.token_urlsafe(16)
        print(f"Listening beyond this machine ({cfg.host}): every call needs the token {token}")
    device = resolve_device(cfg.device)
    colorizer = load_colorizer(cfg.ckpt, arch=arch_overrides(cfg.arch))
    settings = InferenceSettings(working_size=cfg.working_size, device=device,
                                 precision=resolve_precision(cfg.precision, device), close_gaps=cfg.close_gaps,
                                 split_tones=cfg.split_tones, split_colors=cfg.split_colors)
    options = OutputOptions(format="png", max_pixels=cfg.max_pixels, archive_limits=PageGuards.archive_limits(cfg))
    root = Path(tempfile.mkdtemp(prefix="manga-app-"))
    try:
        app = create_app(Chapters(root, colorizer, settings, options), token, cfg.max_upload_mb << 20)
        query = f"?token={token}" if token else ""
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        print(f"Open http://{host}:{cfg.port}/{query}  (Ctrl-C stops)", flush=True)
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="app")
def task(cfg: DictConfig) -> None:
    with errors_reported_in_one_line():
        try:
            serve(cfg)
        except (FileNotFoundError, ValueError, OSError) as e:
            raise RunError(str(e)) from e


def main() -> None:
    with startup_errors_explained(COMMANDS["app"].script):
        task()
