"""The one error reporter of every entry point (manga_cyclegan.config.errors.errors_reported_in_one_line)."""

from __future__ import annotations

import pytest

from manga_cyclegan.config.errors import RunError, errors_reported_in_one_line
from manga_cyclegan.train.nonfinite import NonFiniteLossError


@pytest.mark.parametrize("error, code", [(RunError("data.root=/x does not exist"), 2),
                                         (NonFiniteLossError("Non-finite loss at global step 3"), 1)])
def test_a_run_error_ends_the_run_in_one_line_with_its_exit_code(error, code, capsys):
    with pytest.raises(SystemExit) as stop, errors_reported_in_one_line():
        raise error
    assert stop.value.code == code
    assert capsys.readouterr().err == f"Error: {error}\n"


def test_other_errors_keep_their_traceback():
    with pytest.raises(KeyError), errors_reported_in_one_line():
        raise KeyError("a bug, not the user's")
