"""End to end: the whole money path of one market (GB, GBP) through the doors users use.

Finance staff work in the staff pages (Django test client, each person signed in on their own
client); the integration pushes and pulls through the REST API with its token; the seller reads
the seller portal. Every amount is worked out by hand below and asserted to the penny, and after
every step the ledger is balanced and the balances tie out (`_assert_books`).

Dates are relative to the market's business date, so the test passes on any day:
    T  = GB local date today (Market.local_date())
    B  = T - 1            billing run business date and statement period end (must be < T)
    P0 = B - 13           statement period start (a 14-day period ending yesterday)
    ship dates B-4 .. B-2, contract and seller fee schedule valid from T - 60
    vendor invoice dated T, contract terms 30 days -> due T + 30 = the payment run's pay date

The rate card (contract "standard", GBP, volumetric divisor 5000, VAT 20 %):
    GB-LON -> GB-LON  (0, 2]    3.50 + 0.00 per 1 kg above 0
    GB-LON -> GB-LON  (2, 10]   4.00 + 0.60 per 0.5 kg above 2
    GB-LON -> GB-SCO  (0, 30]   5.00 + 0.45 per 1 kg above 0, minimum 6.00
    surcharges: fuel 10 % of freight; remote area GB-SCO flat 2.50
The seller fee schedule (standard, zone-independent, divisor 5000, VAT 20 %):
    (0, 2]   4.99 flat
    (2, 30]  5.99 + 0.35 per 1 kg above 2

The shipments (seller A = S-E2E-A, seller B = S-E2E-B):
  E2E-A  seller A  LON->LON 1.500 kg, no dims        chargeable 1.5
         vendor: 3.50 + ceil(1.5/1)=2 x 0.00 = 3.50; fuel 10 % = 0.35; net 3.85; VAT 0.77
         seller: 4.99 (bracket (0,2]);                          VAT 0.998 -> 1.00; gross 5.99
  E2E-B  seller A  LON->LON 3.200 kg, 40x30x20 cm    volumetric 24000/5000 = 4.8 -> chargeable 4.8
         vendor: 4.00 + ceil((4.8-2)/0.5)=6 x 0.60 = 7.60; fuel 0.76; net 8.36; VAT 1.672 -> 1.67
         seller: 5.99 + ceil(4.8-2)=3 x 0.35 = 7.04;            VAT 1.408 -> 1.41; gross 8.45
  E2E-C  seller B  LON->SCO 7.000 kg                 chargeable 7
         vendor: 5.00 + 7 x 0.45 = 8.15; fuel 0.815 -> 0.82 (half-up); remote 2.50;
                 net 11.47; VAT 2.294 -> 2.29; gross 13.76
         seller: 5.99 + ceil(7-2)=5 x 0.35 = 7.74;              VAT 1.548 -> 1.55; gross 9.29
  E2E-D  seller A  LON->SCO 0.400 kg                 chargeable 0.4
         vendor: 5.00 + 1 x 0.45 = 5.45 < minimum 6.00 -> 6.00; fuel 0.60; remote 2.50;
                 net 9.10; VAT 1.82
         seller: 4.99;                                          VAT 1.00; gross 5.99
  E2E-E  seller A  LON->WAL 2.000 kg: no rate line for the lane -> rating exception no_rate_line
  (one more record with weight -2 is refused at intake)

Run totals: vendor net 3.85 + 8.36 + 11.47 + 9.10 = 32.78
            seller A net 4.99 + 7.04 + 4.99 = 17.02, VAT 1.00 + 1.41 + 1.00 = 3.41, gross 20.43
            seller B net 7.74, VAT 1.55, gross 9.29; all sellers net 24.76, VAT 4.96
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import BillingRun, BillingRunEntry, ChargeLine, Shipment
from billing.payables.models import BankFile, InvoiceImport, Payable, Payment, PaymentRun, VendorInvoice
from billing.receivables.models import Invoice, Receipt, Statement
from billing.receivables.services import balance_problems
from settlement_ops.models import AccountKind, ImportJob, JournalEntry, Posting
from settlement_ops.roles import Role
from settlement_ops.selectors import balance, unbalanced_entries
from settlement_ops.services import ledger_check
from tests.factories import SellerFactory, SellerUserFactory, UserFactory, market
from vendors.models import Contract, ContractVersion, Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

D = Decimal
CENT = D("0.01")


# --- Doors ---------------------------------------------------------------------------------------


def _page_client(user) -> Client:
    """A browser of its own for one person (finance staff or a seller user)."""
    client = Client()
    client.force_login(user)
    return client


def _api_client(user) -> APIClient:
    """The REST API with the user's token, as an integration calls it."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _redirected(response, to: str | None = None) -> None:
    body = response.content.decode(errors="replace")[:2000] if hasattr(response, "content") else ""
    assert response.status_code == 302, f"{response.status_code}: {body}"
    if to is not None:
        assert response["Location"] == to


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def _gbp(value) -> Decimal:
    return D(str(value or 0)).quantize(CENT)


# --- Files ---------------------------------------------------------------------------------------

RATE_LINE_HEADER = [
    "service_level",
    "origin_zone",
    "destination_zone",
    "weight_from_kg",
    "weight_to_kg",
    "base_price",
    "price_per_additional_kg",
    "additional_step_kg",
    "minimum_charge",
]
SURCHARGE_HEADER = [
    "kind",
    "percent",
    "flat_amount",
    "valid_from",
    "valid_to",
    "zone",
    "dimension_threshold_cm",
    "minimum_amount",
]
RATE_LINES = [
    ["standard", "GB-LON", "GB-LON", "0", "2", "3.50", "0", "1", "0"],
    ["standard", "GB-LON", "GB-LON", "2", "10", "4.00", "0.60", "0.5", "0"],
    ["standard", "GB-LON", "GB-SCO", "0", "30", "5.00", "0.45", "1", "6.00"],
]
SURCHARGES = [
    ["fuel", "10", None, None, None, None, None, None],
    ["remote_area", None, "2.50", None, None, "GB-SCO", None, None],
]


def _rate_card_xlsx() -> bytes:
    """The rate card as the vendor sends it: sheets 'Rate lines' and 'Surcharges' (the export's layout)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Rate lines"
    sheet.append(RATE_LINE_HEADER)
    for row in RATE_LINES:
        sheet.append(row)
    surcharges = workbook.create_sheet("Surcharges")
    surcharges.append(SURCHARGE_HEADER)
    for row in SURCHARGES:
        surcharges.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# The vendor's own CSV layout; its column mapping is saved before the first upload.
INVOICE_COLUMNS = {
    "tracking_number": "Consignment",
    "billed_weight_kg": "Kg",
    "base": "Freight",
    "fuel": "Fuel",
    "remote_area": "Remote",
    "net": "Net",
    "vat": "VAT",
    "gross": "Total",
}
INVOICE_CSV = (
    "Consignment,Kg,Freight,Fuel,Remote,Net,VAT,Total\n"
    "E2E-A,1.500,3.50,0.35,0.00,3.85,0.77,4.62\n"
    "E2E-B,4.800,7.60,0.76,0.00,8.36,1.67,10.03\n"
    # Over-charged: freight 9.15 instead of 8.15 (fuel follows it: 0.92); 12.57 - 11.47 = 1.10 over.
    "E2E-C,7.000,9.15,0.92,2.50,12.57,2.51,15.08\n"
    "E2E-D,0.400,6.00,0.60,2.50,9.10,1.82,10.92\n"
    ",,,,,33.88,6.77,40.65\n"  # the vendor's totals row (no tracking number: skipped)
)
# Header totals: net 3.85 + 8.36 + 12.57 + 9.10 = 33.88; VAT 0.77 + 1.67 + 2.51 + 1.82 = 6.77;
# gross 4.62 + 10.03 + 15.08 + 10.92 = 40.65 (= 33.88 + 6.77).


# --- The books -----------------------------------------------------------------------------------


def _books(vendor, seller_a, seller_b) -> dict[str, Decimal]:
    """The balances (debit positive) this flow moves, derived from the postings."""
    gb = market("GB")

    def bal(kind, party_type="", party_id=None):
        return _gbp(balance(market=gb, kind=kind, party_type=party_type, party_id=party_id).get("GBP"))

    return {
        "logistics_cost": bal(AccountKind.LOGISTICS_COST),
        "accrued_cost_vendor": bal(AccountKind.ACCRUED_LOGISTICS_COST, "vendor", vendor.pk),
        "vendor_payable": bal(AccountKind.VENDOR_PAYABLE, "vendor", vendor.pk),
        "vat_input": bal(AccountKind.VAT_INPUT),
        "vat_output": bal(AccountKind.VAT_OUTPUT),
        "logistics_revenue": bal(AccountKind.LOGISTICS_REVENUE),
        "receivable_a": bal(AccountKind.SELLER_RECEIVABLE, "seller", seller_a.pk),
        "receivable_b": bal(AccountKind.SELLER_RECEIVABLE, "seller", seller_b.pk),
        "unapplied_a": bal(AccountKind.SELLER_UNAPPLIED_CASH, "seller", seller_a.pk),
        "unapplied_unknown": bal(AccountKind.SELLER_UNAPPLIED_CASH),
        "bank": bal(AccountKind.BANK),
    }


def _assert_books(vendor, seller_a, seller_b, **expected) -> None:
    """Every entry balances, the product's nightly check passes (sub-ledgers tie to the ledger),
    the whole ledger nets to zero, and each balance is what the step says (0.00 when not named)."""
    assert list(unbalanced_entries()) == []
    assert balance_problems() == []
    check = ledger_check()
    assert check["ok"], check["problems"]
    total = Posting.objects.filter(currency="GBP").aggregate(t=Sum("amount"))["t"]
    assert _gbp(total) == D("0.00")
    books = _books(vendor, seller_a, seller_b)
    wanted = {name: D("0.00") for name in books}
    wanted.update({name: D(value) for name, value in expected.items()})
    assert books == wanted


def _entry_lines(entry) -> dict[tuple[str, str], Decimal]:
    """{(account kind, party type): amount} of one journal entry."""
    lines: dict[tuple[str, str], Decimal] = {}
    for kind, party_type, party_id, amount in entry.postings.values_list(
        "account__kind", "party_type", "party_id", "amount"
    ):
        key = (kind, f"{party_type}:{party_id}" if party_type else "")
        lines[key] = lines.get(key, D(0)) + _gbp(amount)
    return lines


# --- The flow ------------------------------------------------------------------------------------


def test_one_market_money_path_from_contract_to_cash(django_capture_on_commit_callbacks):
    gb = market("GB")
    T = gb.local_date()
    B = T - timedelta(days=1)
    P0 = B - timedelta(days=13)
    starts = T - timedelta(days=60)

    specialist = UserFactory(username="e2e-specialist", role=Role.FINANCE_SPECIALIST)
    approver = UserFactory(username="e2e-approver", role=Role.FINANCE_APPROVER)
    integration = UserFactory(username="e2e-integration", role=Role.INTEGRATION)
    # A team lead who may both prepare and approve payment runs: four eyes must stop them
    # approving their own run (a plain specialist would be stopped by a missing permission).
    paymaster = UserFactory(username="e2e-paymaster", role=Role.FINANCE_SPECIALIST)
    paymaster.groups.add(approver.groups.get())
    staff_specialist, staff_approver, staff_paymaster = (
        _page_client(specialist),
        _page_client(approver),
        _page_client(paymaster),
    )
    api = _api_client(integration)

    # Sellers have no create door (pages and API are read-only; they arrive from the
    # marketplace): factory.
    seller_a = SellerFactory(code="S-E2E-A", name="Acme Homeware", legal_name="Acme Homeware Ltd", market=gb)
    seller_b = SellerFactory(code="S-E2E-B", name="Bravo Garden", legal_name="Bravo Garden Ltd", market=gb)

    # === 1. Vendor, contract with rate card (specialist), approval (approver), seller fees =========
    response = staff_specialist.post(
        reverse("vendors:vendor_create"),
        {
            "market": "GB",
            "code": "V-E2E-01",
            "legal_name": "Thames Parcels Ltd",
            "vendor_type": Vendor.Type.LAST_MILE,
            "contact_email": "ap@thames-parcels.example",
            "payment_terms_days": "30",
        },
    )
    vendor = Vendor.objects.get(code="V-E2E-01")
    _redirected(response, reverse("vendors:vendor_detail", args=[vendor.pk]))

    response = staff_specialist.post(
        reverse("vendors:contract_create"),
        {
            "vendor": vendor.pk,
            "service_level": "standard",
            "reference": "",
            "valid_from": starts.isoformat(),
            "valid_to": "",
            "currency": "GBP",
            "payment_terms_days": "30",
            "volumetric_divisor": "5000",
            "notes": "E2E",
        },
    )
    contract = Contract.objects.get(vendor=vendor)
    _redirected(response, reverse("vendors:contract_detail", args=[contract.pk]))
    version = contract.versions.get(number=1)
    assert (contract.status, contract.currency, contract.author) == (Contract.Status.DRAFT, "GBP", specialist)

    with django_capture_on_commit_callbacks(execute=True):  # the import job runs after commit
        response = staff_specialist.post(
            reverse("vendors:rate_card_import", args=[version.pk]),
            {"file": SimpleUploadedFile("thames-rates.xlsx", _rate_card_xlsx())},
        )
    _redirected(response, reverse("import_job", args=[ImportJob.objects.get(kind="vendors.rate_card").pk]))
    assert version.rate_lines.count() == 3 and version.surcharges.count() == 2
    _redirected(staff_specialist.post(reverse("vendors:contract_submit", args=[contract.pk])))
    # The author cannot activate it (no approve right); a different user, the approver, does.
    assert staff_specialist.post(reverse("vendors:contract_approve", args=[contract.pk])).status_code == 403
    _redirected(staff_approver.post(reverse("vendors:contract_approve", args=[contract.pk])))
    contract.refresh_from_db()
    version.refresh_from_db()
    assert (contract.status, contract.approved_by) == (Contract.Status.ACTIVE, approver)
    assert (version.status, version.approved_by) == (ContractVersion.Status.ACTIVE, approver)

    # Bank details: requested by the specialist, approved by the approver (maker-checker pages).
    _redirected(
        staff_specialist.post(
            reverse("vendors:bank_change_request", args=[vendor.pk]),
            {
                "account_holder": "Thames Parcels Ltd",
                "iban": "GB29NWBK60161331926819",
                "bic": "NWBKGB2L",
                "currency": "GBP",
                "reason": "Vendor onboarding letter, verified by call-back",
            },
        )
    )
    change = vendor.bank_change_requests.get()
    _redirected(staff_approver.post(reverse("vendors:bank_change_approve", args=[change.pk])))
    assert VendorBankAccount.objects.filter(vendor=vendor, status=VendorBankAccount.Status.ACTIVE).count() == 1

    # Seller fee schedule: drafted by the integration through the API, approved on the staff page
    # by a second person (four eyes); only then does it rate.
    drafted = api.post(
        "/api/seller-fee-schedules/",
        {
            "market": "GB",
            "service_level": "standard",
            "name": "Standard parcels",
            "valid_from": starts.isoformat(),
            "lines": [
                {"weight_from_kg": "0", "weight_to_kg": "2", "base_fee": "4.99"},
                {"weight_from_kg": "2", "weight_to_kg": "30", "base_fee": "5.99", "fee_per_additional_step": "0.35"},
            ],
        },
        format="json",
    )
    assert drafted.status_code == 201, drafted.content
    _redirected(staff_approver.post(reverse("billing:fee_schedule_approve", args=[drafted.json()["id"]])))

    # The product's quote for E2E-C agrees with the hand calculation: 8.15 + 0.82 + 2.50 = 11.47,
    # VAT 2.29, total 13.76.
    quote = api.post(
        "/api/quotes/",
        {
            "vendor": vendor.pk,
            "service_level": "standard",
            "origin_zone": "GB-LON",
            "destination_zone": "GB-SCO",
            "ship_date": (B - timedelta(days=3)).isoformat(),
            "weight_kg": "7.000",
        },
        format="json",
    )
    assert quote.status_code == 200, quote.content
    assert {line["kind"]: D(line["amount"]) for line in quote.json()["lines"]} == {
        "freight": D("8.15"),
        "fuel": D("0.82"),
        "remote_area": D("2.50"),
        "vat": D("2.29"),
    }
    assert (D(quote.json()["net"]), D(quote.json()["total"])) == (D("11.47"), D("13.76"))
    _assert_books(vendor, seller_a, seller_b)  # nothing posted yet

    # === 2. The integration pushes shipments (bulk API), retries with the same Idempotency-Key =====
    def record(tracking, seller, destination, weight, ship, **extra):
        delivered = ship + timedelta(days=1)
        return {
            "tracking_number": tracking,
            "vendor": vendor.code,
            "seller": seller.code,
            "market": "GB",
            "currency": "GBP",
            "service": "standard",
            "origin_zone": "GB-LON",
            "destination_zone": destination,
            "actual_weight_kg": weight,
            "ship_date": ship.isoformat(),
            "delivered_date": delivered.isoformat(),
            "events": [
                {"status": "picked_up", "at": f"{ship.isoformat()}T09:00:00Z"},
                {"status": "delivered", "at": f"{delivered.isoformat()}T15:30:00Z"},
            ],
            **extra,
        }

    records = [
        record("E2E-A", seller_a, "GB-LON", "1.500", B - timedelta(days=4)),
        record(
            "E2E-B", seller_a, "GB-LON", "3.200", B - timedelta(days=4), length_cm="40", width_cm="30", height_cm="20"
        ),
        record("E2E-C", seller_b, "GB-SCO", "7.000", B - timedelta(days=3)),
        record("E2E-X", seller_a, "GB-LON", "-2", B - timedelta(days=3)),  # refused: negative weight
        record("E2E-D", seller_a, "GB-SCO", "0.400", B - timedelta(days=2)),
        record("E2E-E", seller_a, "GB-WAL", "2.000", B - timedelta(days=2)),  # no rate line for the lane
    ]
    first = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="e2e-shipments-1")
    assert first.status_code == 200, first.content
    assert first.json() == {
        "accepted": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "rejected": [{"index": 3, "field": "actual_weight_kg", "reason": "must be greater than zero"}],
    }
    retry = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="e2e-shipments-1")
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    # The same key with another body is refused; a re-push under a new key changes nothing.
    other = api.post("/api/shipments/bulk/", records[:1], format="json", HTTP_IDEMPOTENCY_KEY="e2e-shipments-1")
    assert other.status_code == 422, other.content
    resend = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="e2e-shipments-2")
    assert (resend.json()["created"], resend.json()["unchanged"]) == (0, 5)
    assert sorted(Shipment.objects.filter(vendor=vendor).values_list("tracking_number", flat=True)) == [
        "E2E-A",
        "E2E-B",
        "E2E-C",
        "E2E-D",
        "E2E-E",
    ]
    assert set(Shipment.objects.values_list("status", "revision").distinct()) == {(Shipment.Status.DELIVERED, 1)}
    _assert_books(vendor, seller_a, seller_b)  # intake posts nothing

    # === 3. Finance starts the billing run (page); the integration reads the result (API) ==========
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_specialist.post(reverse("billing:run_start"), {"market": "GB", "business_date": B.isoformat()})
    run = BillingRun.objects.get()
    _redirected(response, reverse("billing:run_detail", args=[run.pk]))
    body = api.get(f"/api/billing-runs/{run.pk}/").json()
    assert (body["status"], body["business_date"], body["shipments_rated"], body["exception_count"]) == (
        "completed",
        B.isoformat(),
        4,
        1,
    )
    # vendor 32.78; sellers net 17.02 + 7.74 = 24.76, VAT 3.41 + 1.55 = 4.96
    assert (D(body["vendor_net_total"]), D(body["seller_net_total"]), D(body["seller_vat_total"])) == (
        D("32.78"),
        D("24.76"),
        D("4.96"),
    )

    charges = {
        row["tracking_number"]: tuple(
            D(row[f])
            for f in (
                "chargeable_weight_kg",
                "vendor_base",
                "vendor_fuel",
                "vendor_remote",
                "vendor_net",
                "vendor_vat",
                "seller_net",
                "seller_vat",
                "seller_gross",
            )
        )
        for row in _results(api.get("/api/charge-lines/", {"run": run.pk}))
    }
    assert charges == {
        #          kg            base         fuel         remote       v.net         v.VAT        s.net        s.VAT        s.gross
        "E2E-A": (D("1.5"), D("3.50"), D("0.35"), D("0"), D("3.85"), D("0.77"), D("4.99"), D("1.00"), D("5.99")),
        "E2E-B": (D("4.8"), D("7.60"), D("0.76"), D("0"), D("8.36"), D("1.67"), D("7.04"), D("1.41"), D("8.45")),
        "E2E-C": (D("7"), D("8.15"), D("0.82"), D("2.50"), D("11.47"), D("2.29"), D("7.74"), D("1.55"), D("9.29")),
        "E2E-D": (D("0.4"), D("6.00"), D("0.60"), D("2.50"), D("9.10"), D("1.82"), D("4.99"), D("1.00"), D("5.99")),
    }
    exceptions = [
        (e["tracking_number"], e["code"]) for e in _results(api.get("/api/rating-exceptions/", {"run": run.pk}))
    ]
    assert exceptions == [("E2E-E", "no_rate_line")]
    assert staff_specialist.get(reverse("billing:run_detail", args=[run.pk])).status_code == 200

    # One ledger entry for the run and vendor:
    #   Dr logistics cost 32.78 / Cr accrued logistics cost (vendor) 32.78
    #   Dr seller A receivable 20.43, Dr seller B receivable 9.29 / Cr revenue 24.76, Cr VAT output 4.96
    (run_entry,) = BillingRunEntry.objects.filter(run=run)
    assert run_entry.vendor == vendor and run_entry.entry.entry_date == B
    assert _entry_lines(run_entry.entry) == {
        (AccountKind.LOGISTICS_COST, ""): D("32.78"),
        (AccountKind.ACCRUED_LOGISTICS_COST, f"vendor:{vendor.pk}"): D("-32.78"),
        (AccountKind.SELLER_RECEIVABLE, f"seller:{seller_a.pk}"): D("20.43"),
        (AccountKind.SELLER_RECEIVABLE, f"seller:{seller_b.pk}"): D("9.29"),
        (AccountKind.LOGISTICS_REVENUE, ""): D("-24.76"),
        (AccountKind.VAT_OUTPUT, ""): D("-4.96"),
    }
    after_run = dict(
        logistics_cost="32.78",
        accrued_cost_vendor="-32.78",
        logistics_revenue="-24.76",
        vat_output="-4.96",
        receivable_a="20.43",
        receivable_b="9.29",
    )
    _assert_books(vendor, seller_a, seller_b, **after_run)

    # Starting it again makes a new run that rates nothing twice (only the exception is tried again).
    entries_before = JournalEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        _redirected(
            staff_specialist.post(reverse("billing:run_start"), {"market": "GB", "business_date": B.isoformat()})
        )
    again = BillingRun.objects.exclude(pk=run.pk).get()
    assert (again.status, again.shipments_rated, again.exception_count) == (BillingRun.Status.COMPLETED, 0, 1)
    assert ChargeLine.objects.count() == 4 and not again.entries.exists()
    assert JournalEntry.objects.count() == entries_before
    _assert_books(vendor, seller_a, seller_b, **after_run)

    # === 4. Vendor invoice: mapping and tolerances first, CSV upload (page), audit, short-pay ======
    _redirected(
        staff_specialist.post(
            reverse("payables:mapping_edit", args=[vendor.pk]),
            {"tolerance_amount": "0.10", "tolerance_percent": "2", "weight_tolerance_kg": "0.100"},
        )
    )
    response = staff_specialist.post(
        reverse("payables:mapping_edit", args=[vendor.pk]),
        {
            "delimiter": ",",
            "decimal_separator": ".",
            "date_format": "auto",
            "header_row": "1",
            **{f"col_{name}": column for name, column in INVOICE_COLUMNS.items()},
        },
    )
    _redirected(response, reverse("payables:invoice_upload") + f"?vendor={vendor.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_specialist.post(
            reverse("payables:invoice_upload"),
            {
                "vendor": vendor.pk,
                "kind": "invoice",
                "invoice_number": "TP-E2E-0042",
                "invoice_date": T.isoformat(),
                "currency": "",
                "net_total": "33.88",
                "vat_total": "6.77",
                "gross_total": "40.65",
                "file": SimpleUploadedFile("thames-TP-E2E-0042.csv", INVOICE_CSV.encode(), content_type="text/csv"),
            },
        )
    job = InvoiceImport.objects.get()
    _redirected(response, reverse("payables:import_detail", args=[job.pk]))
    assert (job.status, job.errors) == (InvoiceImport.Status.DONE, []), job.message
    invoice = VendorInvoice.objects.get(vendor=vendor, number="TP-E2E-0042")
    assert (invoice.status, invoice.line_count, invoice.pending_count, invoice.flagged_count) == (
        VendorInvoice.Status.IN_REVIEW,
        4,
        1,
        1,
    )
    lines = {line.tracking_number: line for line in invoice.lines.all()}
    # E2E-C billed 12.57 net against 11.47 expected: 1.10 over, above 0.10 and 2 % (0.23).
    over = lines["E2E-C"]
    assert (over.flag_codes, over.decision, over.expected_net, over.expected_vat) == (
        ["over_tolerance"],
        "pending",
        D("11.47"),
        D("2.29"),
    )
    for tracking in ("E2E-A", "E2E-B", "E2E-D"):
        assert (lines[tracking].flag_codes, lines[tracking].decision) == ([], "auto_approved")
    assert not Payable.objects.exists()  # nothing is payable while a line waits
    _assert_books(vendor, seller_a, seller_b, **after_run)

    # Short-pay the over-charged line: pay the expected 11.47 + VAT 2.29. Deciding lines is the
    # specialist's right in the product (the approver role holds no invoice-audit permission).
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_specialist.post(
            reverse("payables:invoice_decide", args=[invoice.pk]),
            {"lines": [over.pk], "decision": "short_paid", "reason": "Freight billed above the contract rate card"},
        )
    _redirected(response, reverse("payables:invoice_detail", args=[invoice.pk]))
    invoice.refresh_from_db()
    # approved net 3.85 + 8.36 + 11.47 + 9.10 = 32.78; VAT 0.77 + 1.67 + 2.29 + 1.82 = 6.55;
    # gross 39.33; saved 40.65 - 39.33 = 1.32; accrual relieved = expected net of the lines = 32.78
    assert invoice.status == VendorInvoice.Status.APPROVED
    assert (
        invoice.approved_net,
        invoice.approved_vat,
        invoice.approved_total,
        invoice.savings_total,
        invoice.accrual_relieved,
    ) == (D("32.78"), D("6.55"), D("39.33"), D("1.32"), D("32.78"))
    # Approval: Dr accrued logistics cost (vendor) 32.78, Dr VAT input 6.55 / Cr vendor payable 39.33
    # (billed-vs-accrued difference 32.78 - 32.78 = 0: no logistics cost line).
    assert _entry_lines(invoice.entry) == {
        (AccountKind.ACCRUED_LOGISTICS_COST, f"vendor:{vendor.pk}"): D("32.78"),
        (AccountKind.VAT_INPUT, ""): D("6.55"),
        (AccountKind.VENDOR_PAYABLE, f"vendor:{vendor.pk}"): D("-39.33"),
    }
    payable = Payable.objects.get(invoice=invoice)
    due = T + timedelta(days=30)
    assert (payable.amount, payable.due_date, payable.status) == (D("39.33"), due, Payable.Status.OPEN)
    after_invoice = {**after_run, "accrued_cost_vendor": "0.00", "vat_input": "6.55", "vendor_payable": "-39.33"}
    _assert_books(vendor, seller_a, seller_b, **after_invoice)

    # === 5. Payment run: prepare, four eyes, approve, bank file, paid ==============================
    # The bank details were approved minutes ago: the 14-day control leaves the only payable out.
    response = staff_paymaster.post(
        reverse("payables:run_prepare"), {"market": "GB", "pay_date": due.isoformat(), "bank_change_days": "14"}
    )
    assert response.status_code == 400 and "Nothing can be paid" in response.content.decode()
    assert not PaymentRun.objects.exists()
    response = staff_paymaster.post(
        reverse("payables:run_prepare"), {"market": "GB", "pay_date": due.isoformat(), "bank_change_days": "0"}
    )
    pay_run = PaymentRun.objects.get()
    _redirected(response, reverse("payables:run_detail", args=[pay_run.pk]))
    assert (pay_run.status, pay_run.total_amount, pay_run.payment_count, pay_run.prepared_by) == (
        PaymentRun.Status.DRAFT,
        D("39.33"),
        1,
        paymaster,
    )

    response = staff_paymaster.post(reverse("payables:run_approve", args=[pay_run.pk]))
    _redirected(response, reverse("payables:run_detail", args=[pay_run.pk]))
    assert any("Four eyes" in text for text in _messages(response)), _messages(response)
    pay_run.refresh_from_db()
    assert pay_run.status == PaymentRun.Status.DRAFT and pay_run.approved_by is None

    _redirected(staff_approver.post(reverse("payables:run_approve", args=[pay_run.pk])))
    pay_run.refresh_from_db()
    assert (pay_run.status, pay_run.approved_by) == (PaymentRun.Status.APPROVED, approver)

    _redirected(staff_paymaster.post(reverse("payables:run_export", args=[pay_run.pk])))
    download = staff_paymaster.get(reverse("payables:bank_file", args=[pay_run.pk]))
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    content = download.content
    bank_file = BankFile.objects.get(run=pay_run)
    assert bank_file.format == BankFile.Format.CSV
    assert download["X-Content-SHA256"] == bank_file.sha256 == hashlib.sha256(content).hexdigest()
    rows = list(csv.reader(io.StringIO(content.decode())))
    payment = Payment.objects.get(run=pay_run)
    assert rows[0][:6] == ["record", "run", "end_to_end_id", "execution_date", "currency", "amount"]
    assert rows[1][:7] == [
        "P",
        pay_run.number,
        payment.end_to_end_id,
        due.isoformat(),
        "GBP",
        "39.33",
        "Thames Parcels Ltd",
    ]
    assert rows[1][9] == "GB29NWBK60161331926819"
    assert rows[2][:7] == ["T", pay_run.number, "", due.isoformat(), "GBP", "39.33", "1"] and len(rows) == 3
    _assert_books(vendor, seller_a, seller_b, **after_invoice)  # a sent file posts nothing

    with django_capture_on_commit_callbacks(execute=True):
        _redirected(staff_paymaster.post(reverse("payables:payment_mark", args=[payment.pk]), {"status": "paid"}))
    payment.refresh_from_db()
    pay_run.refresh_from_db()
    payable.refresh_from_db()
    assert (payment.status, pay_run.status, payable.status) == (
        Payment.Status.PAID,
        PaymentRun.Status.COMPLETED,
        Payable.Status.PAID,
    )
    # Payment: Dr vendor payable 39.33 / Cr bank 39.33 -> the vendor payable is -39.33 + 39.33 = 0.00
    assert _entry_lines(payment.entry) == {
        (AccountKind.VENDOR_PAYABLE, f"vendor:{vendor.pk}"): D("39.33"),
        (AccountKind.BANK, ""): D("-39.33"),
    }
    after_payment = {**after_invoice, "vendor_payable": "0.00", "bank": "-39.33"}
    _assert_books(vendor, seller_a, seller_b, **after_payment)

    statement_page = staff_approver.get(reverse("payables:vendor_statement", args=[vendor.pk]))
    assert statement_page.status_code == 200
    statement = statement_page.context["statement"]
    assert (statement["balance"], _gbp(statement["ledger_balance"]), statement["ties"]) == (D("0.00"), D("0.00"), True)
    assert [(row.kind, row.reference, row.amount, row.balance) for row in statement["rows"]] == [
        ("Invoice", "TP-E2E-0042", D("39.33"), D("39.33")),
        ("Payment", payment.end_to_end_id, D("-39.33"), D("0.00")),
    ]
    html = statement_page.content.decode()
    assert "GBP 0.00" in html and "ties to the ledger" in html and "TP-E2E-0042" in html

    # === 6. Seller statements and invoices, the seller portal, a bank receipt applied ===========
    response = staff_specialist.post(
        reverse("receivables:statement_list"),
        {"market": "GB", "period_start": P0.isoformat(), "period_end": B.isoformat()},
    )
    _redirected(response, reverse("receivables:statement_list"))
    invoice_a = Invoice.objects.get(seller=seller_a, kind=Invoice.Kind.INVOICE)
    invoice_b = Invoice.objects.get(seller=seller_b, kind=Invoice.Kind.INVOICE)
    # Seller A: lines E2E-A, E2E-B, E2E-D (E2E-E was never rated): net 17.02, VAT 3.41, gross 20.43.
    assert (invoice_a.net_total, invoice_a.vat_total, invoice_a.gross_total, invoice_a.amount_open) == (
        D("17.02"),
        D("3.41"),
        D("20.43"),
        D("20.43"),
    )
    assert sorted(invoice_a.lines.values_list("tracking_number", "gross")) == [
        ("E2E-A", D("5.99")),
        ("E2E-B", D("8.45")),
        ("E2E-D", D("5.99")),
    ]
    assert (invoice_a.issue_date, invoice_a.due_date, invoice_a.collection) == (
        B,
        B + timedelta(days=gb.payment_terms_days),
        Invoice.Collection.BANK,
    )
    assert invoice_a.number.startswith(f"GB-INV-{B.year}-")
    assert (invoice_b.net_total, invoice_b.vat_total, invoice_b.gross_total) == (D("7.74"), D("1.55"), D("9.29"))
    statement_a = Statement.objects.get(seller=seller_a, period_start=P0, period_end=B)
    assert (
        statement_a.opening_balance,
        statement_a.charges_total,
        statement_a.payments_total,
        statement_a.closing_balance,
    ) == (D("0.00"), D("20.43"), D("0.00"), D("20.43"))
    assert list(statement_a.invoices.all()) == [invoice_a]
    _assert_books(vendor, seller_a, seller_b, **after_payment)  # invoicing posts nothing: the run did

    # The seller portal: seller A sees its invoice; seller B's answers 404 like a missing one.
    portal = _page_client(SellerUserFactory(seller=seller_a).user)
    listing = portal.get(reverse("portal:invoices"))
    assert listing.status_code == 200
    assert invoice_a.number in listing.content.decode() and invoice_b.number not in listing.content.decode()
    detail = portal.get(reverse("portal:invoice_detail", args=[invoice_a.pk]))
    assert detail.status_code == 200 and "20.43" in detail.content.decode() and "E2E-B" in detail.content.decode()
    assert portal.get(reverse("portal:invoice_detail", args=[invoice_b.pk])).status_code == 404
    assert portal.get(reverse("portal:invoice_pdf", args=[invoice_b.pk])).status_code == 404

    # The bank statement with seller A's payment, the invoice number in the reference (page import).
    bank_csv = (
        "value_date,amount,currency,reference,payer_name,bank_reference\n"
        f"{T.isoformat()},20.43,GBP,Payment {invoice_a.number} thank you,Acme Homeware Ltd,BARC-E2E-000001\n"
    )
    with django_capture_on_commit_callbacks(execute=True):  # the import job runs after commit
        response = staff_specialist.post(
            reverse("receivables:receipt_list"),
            {
                "action": "import",
                "market": "GB",
                "file": SimpleUploadedFile("barclays.csv", bank_csv.encode(), content_type="text/csv"),
            },
        )
    job = ImportJob.objects.get(kind="receivables.bank_statement")
    _redirected(response, reverse("import_job", args=[job.pk]))
    assert (job.status, job.progress_percent) == (ImportJob.Status.DONE, 100)
    receipt = Receipt.objects.get(bank_reference="BARC-E2E-000001")
    (application,) = receipt.applications.all()
    assert (receipt.seller, receipt.status, receipt.amount, receipt.amount_unapplied) == (
        seller_a,
        Receipt.Status.APPLIED,
        D("20.43"),
        D("0.00"),
    )
    assert (application.invoice, application.amount, application.rule) == (invoice_a, D("20.43"), "invoice_number")
    invoice_a.refresh_from_db()
    assert (invoice_a.status, invoice_a.amount_open) == (Invoice.Status.PAID, D("0.00"))
    # Receipt: Dr bank 20.43 / Cr seller A unapplied cash 20.43; application: Dr unapplied 20.43 /
    # Cr seller A receivable 20.43. Seller A owes 20.43 - 20.43 = 0.00 (receivable + unapplied);
    # seller B still owes its 9.29; the bank is -39.33 + 20.43 = -18.90.
    _assert_books(
        vendor,
        seller_a,
        seller_b,
        **{**after_payment, "receivable_a": "0.00", "receivable_b": "9.29", "bank": "-18.90"},
    )
    paid = portal.get(reverse("portal:invoice_detail", args=[invoice_a.pk]))
    assert paid.status_code == 200 and "BARC-E2E-000001" in paid.content.decode()
