"""Bank payment files.

EUR: SEPA credit transfer, ISO 20022 pain.001.001.03, written by the sepaxml library (which also
validates it against the XSD it ships).

GBP, IDR, VND: a CSV layout (UTF-8, comma-separated, decimal point, no thousands separator,
amounts with the currency's minor units — 2 for GBP, 0 for IDR/VND):

    record,run,end_to_end_id,execution_date,currency,amount,beneficiary_name,account_number,bank_code,iban,bic,reference
    P,<run number>,<unique id per payment>,YYYY-MM-DD,GBP,1234.56,<name>,<local account>,<sort/bank code>,<IBAN>,<BIC>,<remittance text>
    ...
    T,<run number>,,<execution date>,<currency>,<sum of amounts>,<number of payments>,,,,,

One `P` row per payment, then one trailer `T` row whose amount is the control total and whose
beneficiary_name column carries the payment count. The bank's result file comes back as CSV
`end_to_end_id,status,reason` (status paid | rejected).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.conf import settings
from django.utils.translation import ngettext

from settlement_ops.errors import DomainError
from settlement_ops.exports import SafeCsvWriter
from settlement_ops.money import format_amount, minor_units, quantize

# The platform's own paying accounts per currency (override with PAYABLES_DEBTOR_ACCOUNTS).
DEFAULT_DEBTOR_ACCOUNTS = {
    "EUR": {"name": "Marketplace Logistics BV", "IBAN": "NL91ABNA0417164300", "BIC": "ABNANL2A"},
    "GBP": {"name": "Marketplace Logistics UK Ltd", "account_number": "31926819", "bank_code": "601613"},
    "IDR": {"name": "PT Marketplace Logistik", "account_number": "1234567890", "bank_code": "014"},
    "VND": {"name": "Marketplace Logistics VN", "account_number": "0071000123456", "bank_code": "VCB"},
}
CSV_HEADER = [
    "record",
    "run",
    "end_to_end_id",
    "execution_date",
    "currency",
    "amount",
    "beneficiary_name",
    "account_number",
    "bank_code",
    "iban",
    "bic",
    "reference",
]


def debtor_account(currency: str) -> dict:
    accounts = getattr(settings, "PAYABLES_DEBTOR_ACCOUNTS", DEFAULT_DEBTOR_ACCOUNTS)
    if currency not in accounts:
        raise DomainError(f"No paying bank account is configured for {currency}.", code="no_debtor_account")
    return accounts[currency]


def _plain(amount: Decimal, currency: str) -> str:
    return f"{quantize(amount, currency):.{minor_units(currency)}f}"


def sepa_pain001(run, payments) -> bytes:
    """pain.001.001.03 XML for a EUR run (validated against the schema by sepaxml)."""
    from sepaxml import SepaTransfer

    debtor = debtor_account("EUR")
    sepa = SepaTransfer(
        {"name": debtor["name"], "IBAN": debtor["IBAN"], "BIC": debtor["BIC"], "batch": True, "currency": "EUR"},
        clean=True,
    )
    for payment in payments:
        if not payment.iban:
            raise DomainError(f"{payment.vendor.code} has no IBAN; SEPA needs one.", code="no_iban")
        cents = int(quantize(payment.amount, "EUR") * 100)
        entry = {
            "name": payment.account_holder[:70],
            "IBAN": payment.iban,
            "amount": cents,
            "execution_date": run.pay_date,
            "description": f"{run.number} remittance {payment.end_to_end_id}"[:140],
            "endtoend_id": payment.end_to_end_id,
        }
        if payment.bic:
            entry["BIC"] = payment.bic
        sepa.add_payment(entry)
    return sepa.export(validate=True)


def csv_transfer(run, payments) -> bytes:
    out = io.StringIO()
    # The file is opened in spreadsheets before upload: no field may start a formula.
    writer = SafeCsvWriter(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    total = Decimal(0)
    for payment in payments:
        total += payment.amount
        writer.writerow(
            [
                "P",
                run.number,
                payment.end_to_end_id,
                run.pay_date.isoformat(),
                run.currency,
                _plain(payment.amount, run.currency),
                payment.account_holder,
                payment.account_number,
                payment.bank_code,
                payment.iban,
                payment.bic,
                f"{run.number} {payment.vendor.code}",
            ]
        )
    writer.writerow(
        [
            "T",
            run.number,
            "",
            run.pay_date.isoformat(),
            run.currency,
            _plain(total, run.currency),
            len(payments),
            "",
            "",
            "",
            "",
            "",
        ]
    )
    return out.getvalue().encode("utf-8")


def parse_results(content: bytes) -> list[dict]:
    """The bank's result CSV -> [{row, end_to_end_id, status, reason}]; DomainError lists every bad row."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("The result file is not UTF-8 text.", code="bad_encoding", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not {"end_to_end_id", "status"} <= set(header):
        raise DomainError(
            "The result file needs the columns end_to_end_id,status[,reason].", code="bad_header", field="file"
        )
    rows, errors = [], []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        status = row.get("status", "").lower()
        if status not in ("paid", "rejected"):
            errors.append(
                {"row": number, "field": "status", "message": f"{row.get('status')!r} is not paid or rejected"}
            )
            continue
        if status == "rejected" and not row.get("reason"):
            errors.append({"row": number, "field": "reason", "message": "a rejection needs the bank's reason"})
            continue
        rows.append(
            {
                "row": number,
                "end_to_end_id": row.get("end_to_end_id", ""),
                "status": status,
                "reason": row.get("reason", ""),
            }
        )
    if errors:
        raise DomainError(
            ngettext(
                "%(n)d row of the result file has errors; nothing was applied.",
                "%(n)d rows of the result file have errors; nothing was applied.",
                len(errors),
            )
            % {"n": len(errors)},
            code="bad_rows",
            errors=errors,
        )
    return rows


def describe(amount: Decimal, currency: str) -> str:
    return f"{currency} {format_amount(amount, currency)}"
