"""Vendor invoice intake: column mappings, upload jobs, validation and storage of the lines.

A file is checked completely before anything is stored: every bad row and field is listed on the
import job and no invoice is written. Memory stays flat for big files: pass 1 validates the
stream and adds up the totals (no rows kept), pass 2 reads it again and writes the lines with
bulk_create in batches of BATCH_SIZE (about 5,000 model instances, a few MB, at a time).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import ngettext

from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent
from settlement_ops.money import minor_units, quantize, to_decimal
from settlement_ops.services import audit_record
from vendors.models import Contract, Vendor

from ..models import InvoiceColumnMapping, InvoiceImport, VendorInvoice, VendorInvoiceLine
from ..parsing import (
    COMPONENT_FIELDS,
    FEE_CHARGE_KINDS,
    FEE_FIELDS,
    FIELD_NAMES,
    CellError,
    check_upload,
    iter_rows,
    layout_for,
    read_date,
    read_decimal,
    read_text,
    total_row_kind,
)

BATCH_SIZE = 5000
CSV_DELIMITERS = (",", ";", "|", "\t")
MAX_STORED_ERRORS = 1000
PROGRESS_EVERY = 10000


# --- Mappings ---------------------------------------------------------------------------------------


@transaction.atomic
def mapping_save(
    *,
    actor,
    vendor: Vendor,
    columns: dict,
    delimiter: str = ",",
    decimal_separator: str = ".",
    date_format: str = "auto",
    header_row: int = 1,
    file_type: str = InvoiceColumnMapping.FileType.CSV,
    total_labels: str = "",
    fee_kinds: dict | None = None,
) -> InvoiceColumnMapping:
    """Create or replace a vendor's column mapping. Raises DomainError naming the bad field.
    The CSV delimiter matters only when the vendor sends CSV files. `fee_kinds` gives each fee
    column (insurance, handling, other) the charge kind it is billed as; a fee without one is an
    unexpected charge, flagged for a dispute."""
    unknown = sorted(str(k) for k in (columns or {}) if k not in FIELD_NAMES)
    if unknown:
        raise DomainError(
            f"Unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELD_NAMES)}.", field="columns"
        )
    columns = {k: str(v).strip() for k, v in (columns or {}).items() if str(v or "").strip()}
    for name, header in columns.items():
        if len(header) > 100:
            raise DomainError("A column name is at most 100 characters.", field=name)
    kinds = dict(FEE_CHARGE_KINDS)
    fee_kinds = {k: (v or "") for k, v in (fee_kinds or {}).items()}
    for name, kind in fee_kinds.items():
        if name not in FEE_FIELDS:
            raise DomainError(f"{name!r} is not a fee column; they are {', '.join(FEE_FIELDS)}.", field="fee_kinds")
        if kind not in kinds:
            raise DomainError(
                f"{kind!r} is not a charge kind; choose one of {', '.join(k for k in kinds if k)} or none.",
                field=f"kind_{name}",
            )
    # Only fees that have a column keep a kind; an unmapped fee has nothing to count.
    fee_kinds = {name: kind for name, kind in fee_kinds.items() if kind and name in columns}
    for required in ("tracking_number", "net"):
        if required not in columns:
            raise DomainError(f"Map a column to {required.replace('_', ' ')}.", code="required", field=required)
    if file_type not in InvoiceColumnMapping.FileType.values:
        raise DomainError("The vendor sends CSV or Excel .xlsx files.", field="file_type")
    if decimal_separator not in (".", ","):
        raise DomainError("The decimal separator is a point or a comma.", field="decimal_separator")
    if file_type == InvoiceColumnMapping.FileType.CSV:
        if delimiter == "\\t":
            delimiter = "\t"
        if delimiter not in CSV_DELIMITERS:
            raise DomainError("The CSV delimiter is a comma, semicolon, pipe or tab.", field="delimiter")
        if decimal_separator == delimiter:
            raise DomainError("The decimal separator cannot be the CSV delimiter.", field="decimal_separator")
    else:
        delimiter = ","  # unused for workbooks
    if date_format not in InvoiceColumnMapping.DateFormat.values:
        raise DomainError("Unknown date format.", field="date_format")
    if int(header_row) < 1:
        raise DomainError("The header row is 1 or more.", field="header_row")
    mapping, _ = InvoiceColumnMapping.objects.update_or_create(
        vendor=vendor,
        defaults=dict(
            columns=columns,
            delimiter=delimiter,
            decimal_separator=decimal_separator,
            date_format=date_format,
            header_row=int(header_row),
            file_type=file_type,
            total_labels=(total_labels or "").strip()[:255],
            fee_kinds=fee_kinds,
            updated_by=actor if getattr(actor, "pk", None) else None,
        ),
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="invoice_mapping_save",
        obj=mapping,
        detail={"columns": columns, "fee_kinds": fee_kinds},
    )
    return mapping


# --- Upload jobs -------------------------------------------------------------------------------------

HEADER_FIELDS = [
    "invoice_number",
    "invoice_date",
    "currency",
    "net_total",
    "vat_total",
    "gross_total",
    "credited_invoice_number",
]


def _header_json(header: dict) -> dict:
    out = {}
    for name in HEADER_FIELDS:
        value = header.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, float):
            raise DomainError(f"{name} must be sent as a decimal string, not a float.", field=name)
        out[name] = value.isoformat() if isinstance(value, date) else str(value).strip()
    return out


@transaction.atomic
def invoice_import_create(
    *,
    actor,
    vendor: Vendor,
    filename: str,
    content: bytes,
    header: dict,
    kind: str = VendorInvoice.Kind.INVOICE,
    source: str = "page",
) -> InvoiceImport:
    """Store an uploaded file as an import job and queue it (after commit). Size and type are
    checked here, before any parsing; everything else is checked by the job."""
    check_upload(content=content, filename=filename)
    if kind not in VendorInvoice.Kind.values:
        raise DomainError("Unknown document type.", field="kind")
    if not hasattr(vendor, "invoice_mapping"):
        raise DomainError(
            f"Choose the column mapping of {vendor.code} before uploading its first file.",
            code="no_mapping",
            field="vendor",
        )
    job = InvoiceImport.objects.create(
        vendor=vendor,
        kind=kind,
        header=_header_json(header),
        filename=filename[:255],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        source=source,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="invoice_import_create",
        obj=job,
        detail={"filename": filename, "sha256": job.sha256, "kind": kind},
    )
    from ..tasks import invoice_import_task

    transaction.on_commit(partial(invoice_import_task.delay, job.pk))
    return job


# --- The import job ----------------------------------------------------------------------------------


@dataclass
class _Pass:
    """What pass 1 learns: errors, totals and the header values found in the file."""

    errors: list = field(default_factory=list)
    error_count: int = 0
    rows: int = 0
    net: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)
    numbers: set = field(default_factory=set)
    dates: set = field(default_factory=set)
    currencies: set = field(default_factory=set)
    # Lines that could not be read: totals (rows and header) are then not compared, since every
    # such comparison would only repeat the line's error.
    line_errors: int = 0
    sums: dict = field(default_factory=lambda: defaultdict(Decimal))
    page_sums: dict = field(default_factory=lambda: defaultdict(Decimal))

    def error(self, row, field_name, message):
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"row": row, "field": field_name, "message": message})


def _progress(job_id: int, **fields) -> None:
    # Autocommitted outside the import transaction, so the page sees it while the job runs.
    InvoiceImport.objects.filter(pk=job_id).update(**fields)


def _contract_currency(vendor: Vendor) -> str | None:
    currencies = set(
        Contract.objects.filter(vendor=vendor, status__in=Contract.EFFECTIVE_STATUSES).values_list(
            "currency", flat=True
        )
    )
    return currencies.pop() if len(currencies) == 1 else (vendor.market.currency if currencies else None)


def _clean_row(cells: list, layout, mapping, currency: str, places: int) -> dict:
    """One data row -> cleaned values; raises CellError(field, message) through _RowError."""
    values: dict = {}
    for name, idx in layout.index.items():
        raw = cells[idx] if idx < len(cells) else None
        try:
            if name in ("invoice_number", "currency", "tracking_number"):
                values[name] = read_text(raw)
            elif name in ("invoice_date", "ship_date"):
                values[name] = read_date(raw, mapping.date_format)
            else:
                values[name] = read_decimal(raw, mapping.decimal_separator)
        except CellError as exc:
            raise _RowError(name, str(exc)) from None
    tracking = values.get("tracking_number", "")
    if len(tracking) > 64:
        raise _RowError("tracking_number", "is longer than 64 characters")
    for name in (*COMPONENT_FIELDS, *FEE_FIELDS, "net", "vat", "gross"):
        amount = values.get(name)
        if amount is None:
            continue
        if amount < 0:
            raise _RowError(name, "is negative; send credits as a credit note")
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise _RowError(name, f"{amount} has more decimals than {currency} allows ({places})")
    if values.get("net") is None:
        raise _RowError("net", "is required")
    weight = values.get("billed_weight_kg")
    if weight is not None:
        if weight <= 0:
            raise _RowError("billed_weight_kg", "must be greater than zero")
        if weight != weight.quantize(Decimal("0.001")):
            raise _RowError("billed_weight_kg", "has more than 3 decimals")
    components = [values[n] for n in (*COMPONENT_FIELDS, *FEE_FIELDS) if values.get(n) is not None]
    if components and sum(components, Decimal(0)) != values["net"]:
        raise _RowError(
            "net", f"{values['net']} is not the sum of base, surcharges and fees ({sum(components, Decimal(0))})"
        )
    if values.get("gross") is not None:
        vat = values.get("vat") or Decimal(0)
        if values["net"] + vat != values["gross"]:
            raise _RowError("gross", f"{values['gross']} is not net {values['net']} + VAT {vat}")
    row_currency = values.get("currency")
    if row_currency and row_currency.upper() != currency:
        raise _RowError("currency", f"{row_currency} differs from the contract currency {currency}")
    return values


class _RowError(Exception):
    def __init__(self, field_name, message):
        self.field = field_name
        self.message = message


# Amount fields a totals row may carry, checked against the lines it totals.
TOTALLED_FIELDS = (*COMPONENT_FIELDS, *FEE_FIELDS, "net", "vat", "gross")


def _data_rows(job: InvoiceImport, mapping, kind: str):
    """(row kind, row number, cells) after the header: ("line", ...) for invoice lines, ("sub"
    or "grand", ...) for totals rows (a totals label in the tracking-number column, checked
    against the lines, never imported). Blank rows and rows without a tracking number are
    skipped; reading stops after a grand total (signatures and notes follow it). The first
    yield is ("layout", None, layout)."""
    header_seen = False
    tracking_idx = None
    for number, cells in iter_rows(content=bytes(job.content), kind=kind, delimiter=mapping.delimiter):
        if not header_seen:
            if number == mapping.header_row:
                layout = layout_for(mapping, cells)
                tracking_idx = layout.index["tracking_number"]
                header_seen = True
                yield "layout", None, layout
            continue
        tracking = read_text(cells[tracking_idx]) if tracking_idx < len(cells) else ""
        if not tracking:
            continue
        totals = total_row_kind(tracking, mapping.total_labels)
        if totals:
            yield totals, number, cells
            if totals == "grand":
                return
            continue
        yield "line", number, cells
    if not header_seen:
        raise DomainError(
            f"The file has no row {mapping.header_row} with column names.", code="bad_header", field="header"
        )


def _check_totals_row(found: _Pass, number, cells, layout, mapping, grand: bool) -> None:
    """A subtotal equals the lines since the previous subtotal (a page), a grand total all lines;
    a subtotal that equals all lines so far is accepted too (a running total)."""
    for name in TOTALLED_FIELDS:
        idx = layout.index.get(name)
        if idx is None or idx >= len(cells):
            continue
        try:
            value = read_decimal(cells[idx], mapping.decimal_separator)
        except CellError as exc:
            found.error(number, name, f"totals row: {exc}")
            continue
        if value is None:
            continue
        page, whole = found.page_sums[name], found.sums[name]
        expected = [whole] if grand else [page, whole]
        if value not in expected:
            what = "the lines" if grand else "the lines since the previous subtotal"
            found.error(number, name, f"the totals row says {value}, {what} add up to {expected[0]}")
    found.page_sums.clear()


def _validate(
    job: InvoiceImport, mapping, kind: str, currency: str, credited_trackings: set | None
) -> tuple[_Pass, dict]:
    found = _Pass()
    places = minor_units(currency)
    layout = None
    seen_in_credit: set = set()
    for row_kind, number, cells in _data_rows(job, mapping, kind):
        if row_kind == "layout":
            layout = cells
            continue
        if row_kind != "line":
            # Only meaningful when every line above it could be read.
            if not found.line_errors:
                _check_totals_row(found, number, cells, layout, mapping, grand=row_kind == "grand")
            continue
        found.rows += 1
        try:
            values = _clean_row(cells, layout, mapping, currency, places)
        except _RowError as exc:
            found.line_errors += 1
            found.error(number, exc.field, exc.message)
            continue
        for name in TOTALLED_FIELDS:
            if values.get(name) is not None:
                found.sums[name] += values[name]
                found.page_sums[name] += values[name]
        found.net += values["net"]
        found.vat += values.get("vat") or 0
        found.gross += values.get("gross") or 0
        if values.get("invoice_number"):
            found.numbers.add(values["invoice_number"])
        if values.get("invoice_date"):
            found.dates.add(values["invoice_date"])
        if credited_trackings is not None:
            if values["tracking_number"] not in credited_trackings:
                found.error(number, "tracking_number", f"{values['tracking_number']} is not on the credited invoice")
            seen_in_credit.add(values["tracking_number"])
        if found.rows % PROGRESS_EVERY == 0:
            _progress(job.pk, processed_rows=found.rows)
    return found, layout.index if layout else {}


def _resolve_header(job: InvoiceImport, found: _Pass, currency: str, mapped: dict) -> dict:
    """Header values from the form/API, else from the file; refusals go to found.errors."""
    header = job.header or {}
    result = {}
    number = header.get("invoice_number") or ""
    if len(found.numbers) > 1:
        found.error(
            None, "invoice_number", f"the file holds several invoice numbers: {', '.join(sorted(found.numbers)[:5])}"
        )
    elif found.numbers:
        from_file = next(iter(found.numbers))
        if number and number != from_file:
            found.error(None, "invoice_number", f"the file says {from_file}, the header {number}")
        number = number or from_file
    if not number:
        found.error(None, "invoice_number", "is required")
    result["number"] = number[:64]
    invoice_date = None
    if header.get("invoice_date"):
        try:
            invoice_date = date.fromisoformat(header["invoice_date"])
        except ValueError:
            found.error(None, "invoice_date", f"{header['invoice_date']!r} is not a YYYY-MM-DD date")
    if len(found.dates) > 1:
        found.error(None, "invoice_date", "the file holds several invoice dates")
    elif found.dates and invoice_date is None:
        invoice_date = next(iter(found.dates))
    if invoice_date is None and not any(e["field"] == "invoice_date" for e in found.errors):
        found.error(None, "invoice_date", "is required")
    result["invoice_date"] = invoice_date
    given_currency = (header.get("currency") or "").upper()
    if given_currency and given_currency != currency:
        found.error(None, "currency", f"{given_currency} differs from the contract currency {currency}")
    totals = {}
    for name in ("net_total", "vat_total", "gross_total"):
        raw = header.get(name)
        if raw in (None, ""):
            found.error(None, name, "is required (from the invoice document)")
            continue
        try:
            value = to_decimal(
                str(raw).replace(",", ".") if str(raw).count(",") == 1 and "." not in str(raw) else str(raw)
            )
        except (ValueError, TypeError):
            found.error(None, name, f"{raw!r} is not a number")
            continue
        if value < 0:
            found.error(None, name, "cannot be negative")
        elif value != quantize(value, currency):
            found.error(None, name, f"has more decimals than {currency} allows")
        totals[name] = value
    if len(totals) == 3:
        lines_readable = not found.line_errors
        if totals["net_total"] + totals["vat_total"] != totals["gross_total"]:
            found.error(
                None,
                "gross_total",
                f"{totals['gross_total']} is not net {totals['net_total']} + VAT {totals['vat_total']}",
            )
        if lines_readable and found.net != totals["net_total"]:
            found.error(None, "net_total", f"the lines add up to {found.net}, the header says {totals['net_total']}")
        if lines_readable and "vat" in mapped and found.vat != totals["vat_total"]:
            found.error(
                None, "vat_total", f"the lines' VAT adds up to {found.vat}, the header says {totals['vat_total']}"
            )
        if lines_readable and "gross" in mapped and found.gross != totals["gross_total"]:
            found.error(
                None,
                "gross_total",
                f"the lines' gross adds up to {found.gross}, the header says {totals['gross_total']}",
            )
    result.update(totals)
    return result


def _refuse(job: InvoiceImport, message: str, errors: list, error_count: int | None = None) -> InvoiceImport:
    _progress(
        job.pk,
        status=InvoiceImport.Status.REFUSED,
        message=message[:500],
        errors=errors[:MAX_STORED_ERRORS],
        error_count=error_count if error_count is not None else len(errors),
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=job.uploaded_by,
        action="invoice_import_refused",
        obj=job,
        detail={"errors": job.error_count, "message": message[:200]},
    )
    return job


def invoice_import_run(*, job_id: int) -> InvoiceImport:
    """Check the file of an import job completely, then store the invoice and its lines in one
    transaction and audit it. A refused file stores no invoice; the job lists every problem.
    Safe to run twice: a job that is no longer queued is returned as it is."""
    claimed = InvoiceImport.objects.filter(pk=job_id, status=InvoiceImport.Status.QUEUED).update(
        status=InvoiceImport.Status.PARSING, processed_rows=0
    )
    job = InvoiceImport.objects.select_related("vendor__market", "vendor__invoice_mapping").get(pk=job_id)
    if not claimed:
        return job
    vendor, mapping = job.vendor, job.vendor.invoice_mapping
    try:
        return _import(job, vendor, mapping)
    except DomainError as exc:
        return _refuse(
            job, exc.message, exc.errors or [{"row": None, "field": exc.field or "file", "message": exc.message}]
        )
    except Exception as exc:
        _progress(
            job.pk,
            status=InvoiceImport.Status.FAILED,
            message=f"Unexpected error: {exc}"[:500],
            finished_at=timezone.now(),
        )
        raise


def _import(job: InvoiceImport, vendor: Vendor, mapping) -> InvoiceImport:
    kind = check_upload(content=bytes(job.content), filename=job.filename)
    currency = _contract_currency(vendor)
    if currency is None:
        raise DomainError(
            f"{vendor.code} has no contract; an invoice cannot be audited without one.",
            code="no_contract",
            field="vendor",
        )
    credited = None
    credited_trackings = None
    if job.kind == VendorInvoice.Kind.CREDIT_NOTE:
        credited_number = (job.header or {}).get("credited_invoice_number", "")
        credited = VendorInvoice.objects.filter(
            vendor=vendor, kind=VendorInvoice.Kind.INVOICE, number=credited_number
        ).first()
        if credited is None:
            raise DomainError(
                f"A credit note names the invoice it corrects; {vendor.code} has no invoice {credited_number!r}.",
                code="unknown_credited_invoice",
                field="credited_invoice_number",
            )
        credited_trackings = set(credited.lines.values_list("tracking_number", flat=True))
    found, mapped = _validate(job, mapping, kind, currency, credited_trackings)
    header = _resolve_header(job, found, currency, mapped)
    if found.rows == 0:
        found.error(None, "file", "has no invoice lines")
    if header.get("number") and VendorInvoice.objects.filter(vendor=vendor, number=header["number"]).exists():
        found.error(None, "invoice_number", f"{vendor.code} already used number {header['number']}")
    if found.error_count:
        return _refuse(
            job,
            ngettext(
                "%(n)d problem found; nothing was imported.",
                "%(n)d problems found; nothing was imported.",
                found.error_count,
            )
            % {"n": found.error_count},
            found.errors,
            found.error_count,
        )
    _progress(job.pk, status=InvoiceImport.Status.STORING, total_rows=found.rows, processed_rows=0)
    try:
        invoice = _store(job, vendor, mapping, kind, currency, header, mapped, credited)
    except IntegrityError as exc:
        if "vendor_invoice_number_unique" not in str(exc):
            raise
        # A concurrent upload of the same number won the unique constraint.
        return _refuse(
            job,
            "Duplicate invoice number.",
            [
                {
                    "row": None,
                    "field": "invoice_number",
                    "message": f"{vendor.code} already used number {header['number']}",
                }
            ],
        )
    if invoice.kind == VendorInvoice.Kind.INVOICE:
        _progress(job.pk, status=InvoiceImport.Status.AUDITING, processed_rows=0)
        from .audit import invoice_audit

        invoice_audit(
            invoice_id=invoice.pk,
            progress=lambda step, steps: _progress(job.pk, processed_rows=found.rows * step // steps),
        )
    _progress(
        job.pk,
        status=InvoiceImport.Status.DONE,
        processed_rows=found.rows,
        finished_at=timezone.now(),
        message=ngettext(
            "Imported %(n)d line as %(kind)s %(number)s.", "Imported %(n)d lines as %(kind)s %(number)s.", found.rows
        )
        % {"n": found.rows, "kind": invoice.get_kind_display().lower(), "number": invoice.number},
    )
    job.refresh_from_db()
    return job


def _billed_components(values: dict, mapping) -> dict:
    """billed_<kind> amounts of a line: a fee column with a charge kind counts as that kind (the
    audit compares it with what we expect of the kind); the others stay in their fee column."""
    billed = {f"billed_{n}": values.get(n) or Decimal(0) for n in (*COMPONENT_FIELDS, *FEE_FIELDS)}
    for fee, kind in (mapping.fee_kinds or {}).items():
        if kind and fee in FEE_FIELDS and billed.get(f"billed_{fee}"):
            billed[f"billed_{kind}"] += billed[f"billed_{fee}"]
            billed[f"billed_{fee}"] = Decimal(0)
    return billed


@transaction.atomic
def _store(job, vendor, mapping, kind, currency, header, mapped, credited) -> VendorInvoice:
    invoice = VendorInvoice.objects.create(
        vendor=vendor,
        market=vendor.market,
        kind=job.kind,
        number=header["number"],
        invoice_date=header["invoice_date"],
        currency=currency,
        net_total=header["net_total"],
        vat_total=header["vat_total"],
        gross_total=header["gross_total"],
        credited_invoice=credited,
        status=VendorInvoice.Status.AUDITING,
        imported_by=job.uploaded_by,
    )
    places = minor_units(currency)
    allocate_vat = "vat" not in mapped
    vat_left, net_left = header["vat_total"], header["net_total"]
    batch, count = [], 0
    layout = None
    for row_kind, number, cells in _data_rows(job, mapping, kind):
        if row_kind == "layout":
            layout = cells
            continue
        if row_kind != "line":
            continue  # totals rows were checked in pass 1
        values = _clean_row(cells, layout, mapping, currency, places)
        net = values["net"]
        if allocate_vat:
            # No VAT column: the header VAT is spread over the lines by net, the last line
            # takes the rounding remainder so the lines add up to the header exactly.
            vat = (
                vat_left
                if net_left == net
                else quantize(vat_left * net / net_left, currency)
                if net_left
                else Decimal(0)
            )
            vat_left -= vat
            net_left -= net
        else:
            vat = values.get("vat") or Decimal(0)
        batch.append(
            VendorInvoiceLine(
                invoice=invoice,
                line_no=number,
                tracking_number=values["tracking_number"],
                ship_date=values.get("ship_date"),
                billed_weight_kg=values.get("billed_weight_kg"),
                **_billed_components(values, mapping),
                billed_net=net,
                billed_vat=vat,
                billed_gross=net + vat,
            )
        )
        count += 1
        if len(batch) >= BATCH_SIZE:
            VendorInvoiceLine.objects.bulk_create(batch, batch_size=BATCH_SIZE)
            batch = []
            _progress(job.pk, processed_rows=count)
    if batch:
        VendorInvoiceLine.objects.bulk_create(batch, batch_size=BATCH_SIZE)
    invoice.line_count = count
    if invoice.kind == VendorInvoice.Kind.CREDIT_NOTE:
        invoice.status = VendorInvoice.Status.IN_REVIEW
        invoice.pending_count = count
    invoice.save(update_fields=["line_count", "status", "pending_count"])
    InvoiceImport.objects.filter(pk=job.pk).update(invoice=invoice)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=job.uploaded_by,
        action="vendor_invoice_import",
        obj=invoice,
        detail={"lines": count, "sha256": job.sha256, "import": job.pk},
    )
    return invoice
