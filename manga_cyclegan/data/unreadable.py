"""Reporting the pages left out because they could not be read: one warning per folder, a few examples named."""

from __future__ import annotations

import warnings

from manga_cyclegan.io.pages import PageRef

__all__ = ["UnreadablePagesWarning", "report_unreadable"]


class UnreadablePagesWarning(UserWarning):
    """Some pages could not be read and were left out."""


def report_unreadable(where: str, bad: list[tuple[PageRef, str]], stacklevel: int = 3) -> None:
    """Warn once about the ``(page, reason)`` pairs of ``bad`` found in ``where`` (nothing when it is empty)."""
    if not bad:
        return
    examples = "\n".join(f"  - {r}: {why}" for r, why in bad[:5])
    more = f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else ""
    warnings.warn(
        UnreadablePagesWarning(
            f"{len(bad)} unreadable page(s) in {where} will be skipped "
            f"(re-export them as PNG/JPEG or remove them):\n{examples}{more}"
        ),
        stacklevel=stacklevel,
    )
