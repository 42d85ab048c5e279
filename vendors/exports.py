"""Excel for auditors: contracts and their versions. (The rate-card workbook is in resources.py.)"""

from settlement_ops.exports import Column, Sheet

from .models import ContractVersion


def contracts_sheets(contracts) -> list[Sheet]:
    """Two sheets: one row per contract, one row per version (with who approved and when)."""
    contracts = list(contracts)
    versions = (
        ContractVersion.objects.filter(contract__in=contracts)
        .select_related("contract", "created_by", "approved_by")
        .order_by("contract__reference", "number")
    )
    return [
        Sheet(
            "Contracts",
            [
                Column("Reference", width=28),
                Column("Vendor", width=12),
                Column("Vendor name", width=28),
                Column("Market", width=8),
                Column("Service level", width=14),
                Column("Currency", width=9),
                Column("Valid from", "date", 12),
                Column("Valid to", "date", 12),
                Column("Status", width=12),
                Column("Payment terms (days)", "int", 12),
                Column("Volumetric divisor", "int", 12),
                Column("Author", width=14),
                Column("Approved by", width=14),
                Column("Approved at", "datetime", 20),
                Column("Terminated at", "datetime", 20),
                Column("Termination reason", width=30),
            ],
            (
                (
                    c.reference,
                    c.vendor.code,
                    c.vendor.legal_name,
                    c.market_id,
                    c.service_level,
                    c.currency,
                    c.valid_from,
                    c.valid_to,
                    c.get_status_display(),
                    c.payment_terms_days,
                    c.volumetric_divisor,
                    c.author.username,
                    getattr(c.approved_by, "username", ""),
                    c.approved_at,
                    c.terminated_at,
                    c.termination_reason,
                )
                for c in contracts
            ),
            header_lines=["Vendor contracts"],
        ),
        Sheet(
            "Versions",
            [
                Column("Contract", width=28),
                Column("Version", "int", 8),
                Column("Effective from", "date", 12),
                Column("Status", width=12),
                Column("Created by", width=14),
                Column("Approved by", width=14),
                Column("Activated at", "datetime", 20),
                Column("Retroactive", width=11),
                Column("Notes", width=40),
            ],
            (
                (
                    v.contract.reference,
                    v.number,
                    v.effective_from,
                    v.get_status_display(),
                    v.created_by.username,
                    getattr(v.approved_by, "username", ""),
                    v.activated_at,
                    "yes" if v.is_retroactive else "no",
                    v.notes,
                )
                for v in versions
            ),
        ),
    ]
