"""Parties (vendors, sellers) by code and name for ledger pages, never by internal id.

The kernel's accounts carry (party_type, party_id); the apps that own the parties say how to
name them in a `parties.py` with PARTY_TYPE and `labels(ids) -> {id: "code name"}`, found by the
same registry as navigation, so the kernel imports none of them."""

from __future__ import annotations

from collections import defaultdict

from .navigation import area_modules


def party_labels(pairs) -> dict[tuple[str, int], str]:
    """{(party_type, party_id): "code name"} for the given pairs, one query per party type."""
    wanted = defaultdict(set)
    for party_type, party_id in pairs:
        if party_type and party_id:
            wanted[party_type].add(party_id)
    namers = {module.PARTY_TYPE: module.labels for module in area_modules("parties")}
    labels = {}
    for party_type, ids in wanted.items():
        namer = namers.get(party_type)
        found = namer(ids) if namer else {}
        for party_id in ids:
            labels[(party_type, party_id)] = found.get(party_id, f"{party_type} {party_id} (unknown)")
    return labels


def account_number(code: str) -> int:
    """The chart number of an account code ("2100-V10" -> 2100), for sorting by number."""
    head = code.split("-", 1)[0]
    return int(head) if head.isdigit() else 0
