"""What a journal entry accounts for: the source document by a name finance reads ("Seller invoice
GB-INV-2026-000123", "Payment run PR-GB-2026-0004: V001") and a link to its page.

The kernel stores an entry's source as (source_type, source_id) and sits below the apps that
post, so each app describes its own documents in a `source_documents.py` with

    SOURCES = {source_type: describe(ids) -> {source_id: SourceDocument}}

found by the same registry as navigation and parties (one query per source type, whatever the
page size). An unknown source reads as its words and the stored id, never as an internal label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from django.urls import reverse

from .navigation import area_modules


@dataclass(frozen=True)
class SourceDocument:
    label: str
    url: str = ""
    # The permission the linked page asks for: without it the label shows without a link.
    permission: str = ""


def numeric_ids(ids: Iterable[str]) -> list[int]:
    """Source ids that are primary keys (stored as text on the entry)."""
    return [int(i) for i in ids if str(i).isdigit()]


def _ledger_adjustments(ids) -> dict[str, SourceDocument]:
    """Manual adjustments store the entry they correct (or nothing)."""
    found = {}
    for source_id in ids:
        if str(source_id).isdigit():
            url = reverse("journal_detail", args=[int(source_id)])
            found[source_id] = SourceDocument(
                f"Ledger adjustment of JE{source_id}", url, "settlement_ops.view_journalentry"
            )
        else:
            found[source_id] = SourceDocument("Ledger adjustment")
    return found


KERNEL_SOURCES: dict[str, Callable] = {"adjustment": _ledger_adjustments}


def describers() -> dict[str, Callable]:
    found = dict(KERNEL_SOURCES)
    for module in area_modules("source_documents"):
        found.update(module.SOURCES)
    return found


def fallback(source_type: str, source_id: str) -> SourceDocument:
    noun = source_type.rsplit(".", 1)[-1].replace("_", " ").capitalize()
    return SourceDocument(f"{noun} {source_id}".strip())


def source_documents(entries, *, user=None) -> dict[tuple[str, str], SourceDocument]:
    """{(source_type, source_id): SourceDocument} for journal entries (anything with those two
    attributes). With `user`, links to pages the user cannot open are dropped."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        wanted[entry.source_type].add(entry.source_id)
    known = describers()
    documents = {}
    for source_type, ids in wanted.items():
        describe = known.get(source_type)
        found = describe(ids) if describe else {}
        for source_id in ids:
            document = found.get(source_id) or fallback(source_type, source_id)
            if user is not None and document.url and document.permission and not user.has_perm(document.permission):
                document = replace(document, url="")
            documents[(source_type, source_id)] = document
    return documents


def attach_sources(entries, *, user=None) -> list:
    """The entries (a page of them) with `.source` set to their SourceDocument."""
    entries = list(entries)
    documents = source_documents(entries, user=user)
    for entry in entries:
        entry.source = documents[(entry.source_type, entry.source_id)]
    return entries
