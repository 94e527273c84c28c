"""How every entry point reports a problem the user can fix: one line, no traceback, exit code 2.

Two moments: while Hydra composes the config (an unknown key, a value of the wrong type, a run folder it cannot
create), and inside the task (`RunError`: a value outside its choices, a missing file, no data).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode


class RunError(Exception):
    """A problem with the command (config, data, output folder): reported in one message, exit code 2."""

    exit_code = 2


class ReportedExit(SystemExit):
    """The process ends after its error was printed; nothing is to be added to it."""


def config_hint(script: str) -> str:
    """`script` as run from a checkout ("predict.py", "-m manga_cyclegan.evaluate"); the hint names the console
    command instead where that is what the user typed."""
    command = invoked_as(script)
    return (f"Hint: `{command} --help` lists the command's options and config groups; "
            f"`{command} --cfg job [overrides]` prints the composed config with every key and value.")


def invoked_as(script: str) -> str:
    """How the user started this command: a console script pyproject.toml installs (all named manga-*), or python
    with `script`."""
    name = Path(sys.argv[0]).name
    return name if name.startswith("manga-") else f"python {script}"


def cannot_write_message(path: Path, err: OSError) -> str:
    reason = err.strerror or str(err)
    return (f"Cannot write to the output folder {path} ({reason}): check free space and permissions there, "
            f"or write elsewhere with hydra.run.dir=FOLDER.")


_task_started = False  # set once Hydra has composed the config and called the task


@contextlib.contextmanager
def errors_reported_in_one_line():
    """Inside the task of every entry point: a RunError (a training's NonFiniteLossError is one) ends the run
    with its message instead of a traceback, printed once (by rank 0 under DDP), and its exit code. In sweeps
    (Hydra's multirun) it propagates, so that Hydra/Optuna fail that job only."""
    global _task_started
    _task_started = True
    try:
        yield
    except RunError as err:
        if _in_multirun():
            raise
        if _rank() == 0:
            print(f"Error: {err}", file=sys.stderr, flush=True)
        raise ReportedExit(err.exit_code) from None


@contextlib.contextmanager
def startup_errors_explained(script: str):
    """Around `@hydra.main`. Before the task runs, Hydra composes the config and creates the run folder; on an
    error it prints it and exits, the error being the exit's __context__. Add one line: how to see the valid
    options, or, for a folder it could not create or write, what to check. Exit code 2 (the command is wrong)."""
    try:
        yield
    except ReportedExit:
        raise
    except SystemExit as stop:
        if stop.code in (0, None) or _task_started:
            raise
        os_error = first_os_error(stop.__context__)
        if os_error is not None and os_error.filename:
            print(f"Error: {cannot_write_message(Path(os.fsdecode(os_error.filename)), os_error)}", file=sys.stderr)
        else:
            print(config_hint(script), file=sys.stderr)
        raise SystemExit(2) from None


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def first_os_error(error: BaseException | None) -> OSError | None:
    """The OSError in an exception's chain (Hydra wraps a log file it cannot open in a ValueError)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _rank() -> int:
    """This process's global rank as the launchers set it (0 outside DDP), without importing Lightning."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0
