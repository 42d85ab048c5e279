"""Seller health: nightly performance metrics, early warnings, outreach and improvement plans
(issue #14). The desk shows `open_warning(seller)` on every ticket."""

from __future__ import annotations

from .selectors import open_warnings, warning_text


def open_warning(seller) -> str | None:
    """A short text of the seller's most severe open warning, or None."""
    warning = open_warnings(seller=seller).first()
    if warning is None:
        return None
    more = open_warnings(seller=seller).count() - 1
    return warning_text(warning) + (f" (+{more} more)" if more > 0 else "")
