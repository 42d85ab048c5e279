"""Every page URL of the product and the roles that may open it.

`tests/test_access_matrix.py` walks all URL patterns (admin and API excluded) and fails for a page
missing here, then checks each role: allowed roles get `expect` (200 by default), every other
role gets 403 or 404. Add an entry with each page you build:

    "vendors:contract_detail": Page(ALLOWED, kwargs=lambda: {"pk": ContractFactory().pk}),
    "billing:run_start": Page(FINANCE, post=True),     # POST-only actions: refused = 403/404

`kwargs` builds the objects a URL needs (called once per test). `expect` maps a role to another
status for that role (e.g. a redirect).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from settlement_ops.roles import Role as R

FINANCE = [R.FINANCE_SPECIALIST, R.FINANCE_APPROVER]
LEDGER_READERS = FINANCE + [R.AUDITOR, R.RISK_ANALYST]
STAFF = R.STAFF


@dataclass
class Page:
    allowed: list
    kwargs: Callable[[], dict] | None = None
    post: bool = False
    expect: dict = field(default_factory=dict)
    query: str = ""


def _journal_entry():
    from tests.settlement_ops.helpers import post_simple_entry

    return {"pk": post_simple_entry().pk}


def _account():
    from tests.settlement_ops.helpers import post_simple_entry

    return {"pk": post_simple_entry().postings.first().account_id}


def _seller():
    from tests.factories import SellerFactory

    return {"pk": SellerFactory().pk}


def _import_job():
    """A refused rate-card import job (settlement_ops.import_jobs): its door needs change_contract."""
    from settlement_ops.models import ImportJob
    from tests.factories import ContractFactory, UserFactory

    version = ContractFactory().versions.get()
    job = ImportJob.objects.create(
        kind="vendors.rate_card",
        target=str(version.pk),
        title="Rate card",
        filename="card.xlsx",
        content=b"PK",
        sha256="0" * 64,
        status="refused",
        errors=[{"row": 2, "field": "base_price", "message": "is not a number"}],
        error_count=1,
        requested_by=UserFactory(),
    )
    return {"pk": job.pk}


def _vendor():
    from tests.factories import VendorFactory

    return {"pk": VendorFactory().pk}


def _bank_change():
    from tests.factories import VendorBankChangeRequestFactory

    return {"pk": VendorBankChangeRequestFactory().pk}


def _contract():
    from tests.factories import ContractFactory

    return {"pk": ContractFactory().pk}


def _version():
    from tests.factories import ContractFactory

    return {"pk": ContractFactory().versions.get().pk}


def _period_workbook():
    from datetime import date

    from settlement_ops.period_workbook import period_workbook_generate, period_workbook_start
    from tests.factories import UserFactory, market

    workbook = period_workbook_start(actor=UserFactory(role=R.AUDITOR), market=market("GB"), month=date(2026, 10, 1))
    return {"pk": period_workbook_generate(workbook_id=workbook.pk).pk}


VENDOR_READERS = FINANCE + [R.AUDITOR, R.RISK_ANALYST, R.COMPENSATION_QA]
CONTRACT_READERS = FINANCE + [R.AUDITOR, R.RISK_ANALYST]

PAGES: dict[str, Page] = {
    # kernel
    "home": Page(STAFF, expect={R.SELLER_USER: 302}),  # sellers are sent to their portal
    "trial_balance": Page(LEDGER_READERS),
    "finance_overview": Page(LEDGER_READERS),
    "journal_list": Page(LEDGER_READERS),
    "journal_detail": Page(LEDGER_READERS, kwargs=_journal_entry),
    "account_postings": Page(LEDGER_READERS, kwargs=_account),
    "ledger_export": Page(FINANCE + [R.AUDITOR], query="?market=GB"),
    "periods": Page(FINANCE + [R.AUDITOR], query="?market=GB"),
    "period_action": Page(FINANCE + [R.AUDITOR], post=True),
    "period_workbook_download": Page(FINANCE + [R.AUDITOR], kwargs=_period_workbook),
    "markets": Page(STAFF),
    "fx_rates": Page(STAFF),
    "audit_log": Page([R.AUDITOR, R.RISK_ANALYST]),
    # Administrators only (superusers, or a group given settlement_ops.manage_apitoken): no role.
    "api_tokens": Page([]),
    "api_token_revoke": Page([], post=True, kwargs=lambda: {"pk": 1}),
    "change_history": Page(STAFF, kwargs=lambda: {"app_label": "sellers", "model_name": "seller", **_seller()}),
    # vendors
    "vendors:vendor_list": Page(VENDOR_READERS),
    "vendors:vendor_detail": Page(VENDOR_READERS, kwargs=_vendor),
    "vendors:vendor_create": Page([R.FINANCE_SPECIALIST]),
    "vendors:vendor_edit": Page([R.FINANCE_SPECIALIST], kwargs=_vendor),
    "vendors:bank_change_request": Page([R.FINANCE_SPECIALIST], kwargs=_vendor),
    "vendors:bank_change_approve": Page([R.FINANCE_APPROVER], kwargs=_bank_change, post=True),
    "vendors:bank_change_reject": Page([R.FINANCE_APPROVER], kwargs=_bank_change, post=True),
    "vendors:contract_list": Page(CONTRACT_READERS),
    "vendors:contract_create": Page([R.FINANCE_SPECIALIST]),
    "vendors:contract_export": Page(FINANCE + [R.AUDITOR]),
    "vendors:contract_detail": Page(CONTRACT_READERS, kwargs=_contract),
    "vendors:contract_submit": Page([R.FINANCE_SPECIALIST], kwargs=_contract, post=True),
    "vendors:contract_approve": Page([R.FINANCE_APPROVER], kwargs=_contract, post=True),
    "vendors:contract_reject": Page([R.FINANCE_APPROVER], kwargs=_contract, post=True),
    "vendors:contract_terminate": Page([R.FINANCE_APPROVER], kwargs=_contract, post=True),
    "vendors:contract_amend": Page([R.FINANCE_SPECIALIST], kwargs=_contract, post=True),
    "vendors:rate_card": Page(CONTRACT_READERS, kwargs=_version),
    "vendors:rate_card_export": Page(FINANCE + [R.AUDITOR], kwargs=_version),
    "vendors:rate_card_import": Page([R.FINANCE_SPECIALIST], kwargs=_version),
    # background imports: the job's door permission (here the rate card's); others get 404
    "import_job": Page([R.FINANCE_SPECIALIST], kwargs=_import_job),
    "import_job_progress": Page([R.FINANCE_SPECIALIST], kwargs=_import_job),
    "import_job_errors": Page([R.FINANCE_SPECIALIST], kwargs=lambda: {**_import_job(), "fmt": "csv"}),
    "vendors:version_submit": Page([R.FINANCE_SPECIALIST], kwargs=_version, post=True),
    "vendors:version_approve": Page([R.FINANCE_APPROVER], kwargs=_version, post=True),
    "vendors:version_reject": Page([R.FINANCE_APPROVER], kwargs=_version, post=True),
    "vendors:quote": Page(CONTRACT_READERS),
    # sellers
    "sellers:seller_list": Page(STAFF),
    "sellers:seller_detail": Page(STAFF, kwargs=_seller),
    "portal:home": Page([R.SELLER_USER]),
}


# payables
PAYABLES_READ = FINANCE + [R.AUDITOR]
PAYABLES_EXPORT = FINANCE + [R.AUDITOR]


def _invoice():
    from tests.payables.helpers import audited_invoice

    return {"pk": audited_invoice().pk}


def _import():
    from tests.payables.helpers import refused_import

    return {"pk": refused_import().pk}


def _vendor():
    from tests.factories import VendorFactory

    return {"pk": VendorFactory().pk}


def _payable():
    from tests.payables.helpers import open_payable

    return {"pk": open_payable().pk}


def _run():
    from tests.payables.helpers import prepared_run

    return {"pk": prepared_run().pk}


def _exported_run():
    from tests.payables.helpers import exported_run

    return {"pk": exported_run().pk}


def _payment():
    from tests.payables.helpers import exported_run

    return {"pk": exported_run().payments.first().pk}


PAGES.update(
    {
        "payables:invoice_list": Page(PAYABLES_READ + [R.RISK_ANALYST]),
        "payables:invoice_export": Page(PAYABLES_EXPORT),
        "payables:invoice_upload": Page([R.FINANCE_SPECIALIST]),
        "payables:invoice_detail": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=_invoice),
        "payables:invoice_decide": Page([R.FINANCE_SPECIALIST], kwargs=_invoice, post=True),
        "payables:invoice_reaudit": Page([R.FINANCE_SPECIALIST], kwargs=_invoice, post=True),
        "payables:credit_note_approve": Page([R.FINANCE_SPECIALIST], kwargs=_invoice, post=True),
        "payables:invoice_lines_export": Page(PAYABLES_EXPORT, kwargs=_invoice),
        "payables:import_detail": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=_import),
        "payables:import_progress": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=_import),
        "payables:import_errors": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=lambda: {**_import(), "fmt": "csv"}),
        "payables:mapping_edit": Page([R.FINANCE_SPECIALIST], kwargs=_vendor),
        "payables:dispute_letter": Page(PAYABLES_EXPORT, kwargs=_vendor),
        "payables:vendor_statement": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=_vendor),
        "payables:vendor_statement_export": Page(PAYABLES_EXPORT, kwargs=_vendor),
        "payables:payable_list": Page(PAYABLES_READ + [R.RISK_ANALYST]),
        "payables:payable_export": Page(PAYABLES_EXPORT),
        "payables:payable_hold": Page(FINANCE + [R.RISK_ANALYST], kwargs=_payable, post=True),
        "payables:payable_release": Page(FINANCE + [R.RISK_ANALYST], kwargs=_payable, post=True),
        "payables:run_list": Page(PAYABLES_READ + [R.RISK_ANALYST]),
        "payables:run_prepare": Page([R.FINANCE_SPECIALIST]),
        "payables:run_detail": Page(PAYABLES_READ + [R.RISK_ANALYST], kwargs=_run),
        "payables:run_approve": Page([R.FINANCE_APPROVER], kwargs=_run, post=True),
        "payables:run_export": Page([R.FINANCE_SPECIALIST], kwargs=_run, post=True),
        "payables:run_cancel": Page([R.FINANCE_SPECIALIST], kwargs=_run, post=True),
        "payables:run_remove_item": Page([R.FINANCE_SPECIALIST], kwargs=_run, post=True),
        "payables:run_results": Page([R.FINANCE_SPECIALIST], kwargs=_exported_run, post=True),
        "payables:bank_file": Page(PAYABLES_EXPORT, kwargs=_exported_run),
        "payables:run_workbook": Page(PAYABLES_EXPORT, kwargs=_run),
        "payables:payment_mark": Page([R.FINANCE_SPECIALIST], kwargs=_payment, post=True),
        "payables:remittance": Page(PAYABLES_EXPORT, kwargs=_payment),
        "payables:payment_lineage": Page(PAYABLES_EXPORT, kwargs=_payment),
    }
)


# receivables (staff pages and the seller portal's statements, invoices and payments)
AR_READ = FINANCE + [R.AUDITOR, R.RISK_ANALYST]
AR_EXPORT = FINANCE + [R.AUDITOR]


def _ar_world():
    """A GB invoice and statement of a seller; the portal user of the matrix test has its own
    seller, so the portal detail pages here are someone else's (404 for them; see the portal
    tests for a seller's own pages)."""
    from tests.receivables.helpers import World

    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000")
    return w, seller, invoice


def _ar_statement():
    _, seller, _ = _ar_world()
    return {"pk": seller.statements.get().pk}


def _ar_invoice():
    """An invoice paid in part, so its page links to the receipt and the seller's collections."""
    w, seller, invoice = _ar_world()
    w.receive("1.00", reference=invoice.number)
    return {"pk": invoice.pk}


def _ar_receipt():
    w, seller, invoice = _ar_world()
    return {"pk": w.receive("1.00", seller=seller).pk}


def _ar_application():
    w, seller, invoice = _ar_world()
    return {"pk": w.receive("1.00", reference=invoice.number).applications.get().pk}


def _ar_write_off():
    from billing.receivables.services import write_off_propose

    w, seller, invoice = _ar_world()
    return {"pk": write_off_propose(actor=w.clerk, invoice=invoice, reason="gone").pk}


PAGES.update(
    {
        "receivables:statement_list": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2]),
        "receivables:statements_export": Page(AR_EXPORT),
        "receivables:statement_detail": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2], kwargs=_ar_statement),
        "receivables:statement_export": Page(AR_EXPORT, kwargs=_ar_statement),
        "receivables:invoice_list": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2]),
        "receivables:invoice_detail": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2], kwargs=_ar_invoice),
        "receivables:invoice_pdf": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2], kwargs=_ar_invoice),
        "receivables:invoice_credit_note": Page([R.FINANCE_SPECIALIST], kwargs=_ar_invoice, post=True),
        "receivables:invoice_write_off": Page([R.FINANCE_SPECIALIST], kwargs=_ar_invoice, post=True),
        "receivables:receipt_list": Page(AR_READ + [R.SUPPORT_TIER2]),
        "receivables:receipt_queue": Page(AR_READ + [R.SUPPORT_TIER2]),
        "receivables:receipts_export": Page(AR_EXPORT),
        "receivables:receipt_detail": Page(AR_READ + [R.SUPPORT_TIER2], kwargs=_ar_receipt),
        "receivables:receipt_apply": Page([R.FINANCE_SPECIALIST], kwargs=_ar_receipt, post=True),
        "receivables:receipt_identify": Page([R.FINANCE_SPECIALIST], kwargs=_ar_receipt, post=True),
        "receivables:receipt_reverse": Page([R.FINANCE_SPECIALIST], kwargs=_ar_receipt, post=True),
        "receivables:application_reverse": Page([R.FINANCE_SPECIALIST], kwargs=_ar_application, post=True),
        "receivables:aging": Page(AR_READ + [R.SUPPORT_TIER1, R.SUPPORT_TIER2]),
        "receivables:worklist": Page(AR_READ),
        "receivables:seller_collections": Page(AR_READ, kwargs=_seller),
        "receivables:write_off_list": Page(AR_READ),
        "receivables:write_off_decide": Page([R.FINANCE_APPROVER], kwargs=_ar_write_off, post=True),
        "portal:statements": Page([R.SELLER_USER]),
        "portal:statement_detail": Page([], kwargs=_ar_statement),
        "portal:statement_export": Page([], kwargs=_ar_statement),
        "portal:invoices": Page([R.SELLER_USER]),
        "portal:invoice_detail": Page([], kwargs=_ar_invoice),
        "portal:invoice_pdf": Page([], kwargs=_ar_invoice),
        "portal:payments": Page([R.SELLER_USER]),
    }
)


# billing (shipments and billing runs)
def _billing_run():
    from tests.factories import ChargeLineFactory

    return {"pk": ChargeLineFactory().run_id}


def _billing_shipment():
    from tests.factories import ChargeLineFactory

    return {"pk": ChargeLineFactory().shipment_id}


BILLING_RUN_READERS = FINANCE + [R.AUDITOR, R.RISK_ANALYST]
PAGES.update(
    {
        "billing:run_list": Page(BILLING_RUN_READERS),
        "billing:run_start": Page(FINANCE, post=True),
        "billing:run_detail": Page(BILLING_RUN_READERS, kwargs=_billing_run),
        "billing:run_progress": Page(BILLING_RUN_READERS, kwargs=_billing_run),
        "billing:run_resume": Page(FINANCE, kwargs=_billing_run, post=True),
        "billing:run_export": Page(FINANCE + [R.AUDITOR], kwargs=_billing_run),
        "billing:shipment_list": Page(STAFF),
        "billing:shipment_detail": Page(STAFF, kwargs=_billing_shipment),
    }
)


def _fee_schedule_draft():
    from datetime import date

    from billing.fee_schedules import seller_fee_schedule_create
    from tests.factories import UserFactory, market

    schedule = seller_fee_schedule_create(
        actor=UserFactory(role=R.INTEGRATION),
        market=market("GB"),
        service_level="standard",
        name="Matrix draft",
        valid_from=date(2026, 12, 1),
        lines=[("0", "30", "4.99", "0", "1", "0")],
    )
    return {"pk": schedule.pk}


FEE_SCHEDULE_READERS = FINANCE + [R.AUDITOR, R.RISK_ANALYST]
PAGES.update(
    {
        "billing:fee_schedule_list": Page(FEE_SCHEDULE_READERS),
        "billing:fee_schedule_create": Page([R.FINANCE_SPECIALIST]),
        "billing:fee_schedule_export": Page(FINANCE + [R.AUDITOR]),
        "billing:fee_schedule_detail": Page(FEE_SCHEDULE_READERS, kwargs=_fee_schedule_draft),
        "billing:fee_schedule_approve": Page([R.FINANCE_APPROVER], kwargs=_fee_schedule_draft, post=True),
        "billing:fee_schedule_reject": Page([R.FINANCE_APPROVER], kwargs=_fee_schedule_draft, post=True),
    }
)


# compensation (staff pages and the seller portal's chargebacks)
CMP_READ = FINANCE + [R.AUDITOR, R.RISK_ANALYST, R.COMPENSATION_QA]
QA = [R.COMPENSATION_QA]


def _cmp_world():
    from tests.compensation.helpers import World

    return World()


def _cmp_request():
    w = _cmp_world()
    record = w.record()
    w.intake(record)
    w.audit()
    from compensation.models import CompensationRequest

    return {"pk": CompensationRequest.objects.get(external_id=record["external_id"]).pk}


def _cmp_chargeback():
    from tests.compensation.helpers import carrier_chargeback

    return {"pk": carrier_chargeback().pk}


def _cmp_dispute():
    from compensation.services import dispute_open
    from tests.compensation.helpers import carrier_chargeback

    chargeback = carrier_chargeback()
    return {"pk": dispute_open(actor=chargeback.created_by, chargeback=chargeback, reason="not ours").pk}


def _cmp_policy():
    return {"pk": _cmp_world().policy.pk}


def _cmp_upload():
    from compensation.models import IntakeUpload
    from tests.factories import UserFactory

    return {"pk": IntakeUpload.objects.create(filename="x.csv", content=b"", uploaded_by=UserFactory()).pk}


def _cmp_claim():
    from tests.compensation.helpers import late_claim

    return {"pk": late_claim().pk}


def _cmp_action():
    from datetime import date

    from compensation.services import corrective_action_save
    from tests.factories import UserFactory, market

    owner = UserFactory(role=R.COMPENSATION_QA)
    action = corrective_action_save(
        actor=owner, market=market("GB"), title="Coach agent", owner=owner, due_date=date(2026, 12, 31), agent="a-1"
    )
    return {"pk": action.pk}


PAGES.update(
    {
        "compensation:request_list": Page(STAFF),
        "compensation:request_detail": Page(STAFF, kwargs=_cmp_request),
        "compensation:request_review": Page(QA, kwargs=_cmp_request, post=True),
        "compensation:request_override": Page(QA, kwargs=_cmp_request, post=True),
        "compensation:request_chargeback": Page(QA, kwargs=_cmp_request, post=True),
        "compensation:upload": Page(QA),
        # Someone else's upload: only its uploader confirms it, so it is a 404 for every role here.
        "compensation:upload_confirm": Page([], kwargs=_cmp_upload, post=True),
        "compensation:policy_list": Page(CMP_READ),
        "compensation:policy_new": Page(QA, post=True),
        "compensation:policy_detail": Page(CMP_READ, kwargs=_cmp_policy),
        "compensation:policy_attribute": Page(QA, kwargs=_cmp_policy, post=True),
        "compensation:policy_activate": Page(QA + [R.FINANCE_APPROVER], kwargs=_cmp_policy, post=True),
        "compensation:audit_runs": Page(CMP_READ),
        "compensation:audit_run_start": Page(QA, post=True),
        "compensation:sample": Page(QA),
        "compensation:sample_draw": Page(QA, post=True),
        "compensation:chargeback_list": Page(STAFF),
        "compensation:chargeback_detail": Page(STAFF, kwargs=_cmp_chargeback),
        "compensation:chargeback_dispute": Page(QA + [R.FINANCE_SPECIALIST], kwargs=_cmp_chargeback, post=True),
        "compensation:dispute_list": Page(STAFF),
        "compensation:dispute_decide": Page(QA, kwargs=_cmp_dispute, post=True),
        "compensation:dispute_approve": Page([R.FINANCE_APPROVER], kwargs=_cmp_dispute, post=True),
        "compensation:claim_list": Page(CMP_READ),
        "compensation:claims_build": Page([R.FINANCE_SPECIALIST], post=True),
        "compensation:claim_detail": Page(CMP_READ, kwargs=_cmp_claim),
        "compensation:claim_letter": Page(CMP_READ, kwargs=_cmp_claim),
        "compensation:report": Page(CMP_READ),
        "compensation:actions": Page(CMP_READ),
        "compensation:action_new": Page(QA, post=True),
        "compensation:action_update": Page(QA, kwargs=_cmp_action, post=True),
        "portal:chargebacks": Page([R.SELLER_USER]),
        "portal:chargeback_detail": Page([], kwargs=_cmp_chargeback),
        "portal:chargeback_dispute": Page([], kwargs=_cmp_chargeback, post=True),
    }
)


# --- risk -------------------------------------------------------------------------------------------

RISK_READ = [R.RISK_ANALYST, R.FINANCE_APPROVER, R.AUDITOR]
RISK_EXPORT = RISK_READ
NIGHTLY_READ = [R.RISK_ANALYST, R.FINANCE_APPROVER, R.FINANCE_SPECIALIST, R.AUDITOR]


def _risk_case():
    from tests.risk.pages import risk_case

    return {"pk": risk_case().pk}


def _risk_finding():
    from tests.risk.pages import risk_case

    return {"pk": risk_case().findings.first().pk}


def _risk_hold():
    from tests.risk.pages import risk_hold

    return {"pk": risk_hold().pk}


def _nightly_step():
    from tests.risk.pages import failed_nightly_step

    return {"pk": failed_nightly_step().pk}


PAGES.update(
    {
        "risk:dashboard": Page(RISK_READ),
        "risk:finding_list": Page(RISK_READ),
        "risk:finding_export": Page(RISK_EXPORT),
        "risk:finding_detail": Page(RISK_READ, kwargs=_risk_finding),
        "risk:finding_dismiss": Page([R.RISK_ANALYST], kwargs=_risk_finding, post=True),
        "risk:case_list": Page(RISK_READ),
        "risk:case_open": Page([R.RISK_ANALYST], post=True),
        "risk:case_export": Page(RISK_EXPORT),
        "risk:case_detail": Page(RISK_READ, kwargs=_risk_case),
        "risk:case_update": Page([R.RISK_ANALYST], kwargs=_risk_case, post=True),
        # Open case: closing it is the analyst's (a requested close is the approver's).
        "risk:case_close": Page([R.RISK_ANALYST], kwargs=_risk_case, post=True),
        "risk:hold_place": Page([R.RISK_ANALYST], kwargs=_risk_case, post=True),
        "risk:hold_request_release": Page([R.RISK_ANALYST], kwargs=_risk_hold, post=True),
        "risk:hold_release": Page([R.FINANCE_APPROVER], kwargs=_risk_hold, post=True),
        "risk:hold_co_approve": Page([R.FINANCE_APPROVER], kwargs=_risk_hold, post=True),
        "risk:rule_list": Page(RISK_READ),
        "risk:rule_params": Page([R.RISK_ANALYST], post=True),
        "risk:nightly": Page(NIGHTLY_READ),
        "risk:nightly_rerun": Page([R.FINANCE_APPROVER, R.FINANCE_SPECIALIST], kwargs=_nightly_step, post=True),
    }
)


# the seller consultation desk (sellers/desk)
DESK = [R.SUPPORT_TIER1, R.SUPPORT_TIER2, R.FINANCE_SPECIALIST]


def _desk_ticket():
    """A tier-1 ticket of a seller no test user belongs to, with a PDF attached."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sellers.desk.services import ticket_open
    from tests.factories import SellerFactory, UserFactory

    seller = SellerFactory()
    ticket = ticket_open(
        seller=seller,
        actor=UserFactory(),
        category="charge",
        subject="Why this fee?",
        body="Please explain.",
        files=[SimpleUploadedFile("proof.pdf", b"%PDF-1.4\n%%EOF\n")],
    )
    return ticket


def _desk_attachment():
    return {"pk": _desk_ticket().attachments.get().pk}


def _desk_credit_proposal():
    from sellers.models import TicketCreditProposal
    from tests.factories import UserFactory

    proposal = TicketCreditProposal.objects.create(
        ticket=_desk_ticket(),
        invoice_id=0,
        invoice_number="GB-INV-2026-000001",
        currency="GBP",
        amount="5.99",
        reason="Wrong weight",
        proposed_by=UserFactory(),
    )
    return {"pk": proposal.pk}


PAGES.update(
    {
        "sellers:desk_queue": Page(DESK),
        "sellers:desk_new": Page(DESK),
        "sellers:desk_report": Page(DESK),
        "sellers:desk_report_export": Page(DESK),
        "sellers:desk_ticket": Page(DESK, kwargs=lambda: {"pk": _desk_ticket().pk}),
        "sellers:desk_attachment": Page(DESK, kwargs=_desk_attachment),
        # Without a decision the approver's POST rejects the proposal.
        "sellers:desk_credit_decide": Page([R.FINANCE_APPROVER], kwargs=_desk_credit_proposal, post=True),
        **{
            f"sellers:desk_{action}": Page(DESK, kwargs=lambda: {"pk": _desk_ticket().pk}, post=True)
            for action in ("reply", "note", "assign", "escalate", "resolve", "merge", "credit")
        },
        "portal:desk_tickets": Page([R.SELLER_USER]),
        "portal:desk_new": Page([R.SELLER_USER]),
        "portal:desk_explain": Page([R.SELLER_USER]),
        # Another seller's ticket and file: a 404 for every seller user, like a missing one.
        "portal:desk_ticket": Page([], kwargs=lambda: {"pk": _desk_ticket().pk}),
        "portal:desk_attachment": Page([], kwargs=_desk_attachment),
        **{
            f"portal:desk_{action}": Page([], kwargs=lambda: {"pk": _desk_ticket().pk}, post=True)
            for action in ("reply", "confirm", "reopen", "rate")
        },
    }
)


# seller health (sellers/health): tier 2 and the specialists; the portal's own performance page
HEALTH = [R.SUPPORT_TIER2, R.FINANCE_SPECIALIST]


def _health_warning():
    """An open warning on a seller no test user belongs to."""
    from datetime import date

    from sellers.models import HealthWarning, WarningRuleSet
    from tests.factories import SellerFactory, UserFactory

    seller = SellerFactory()
    rules = WarningRuleSet.objects.create(market=seller.market, version=1, params={}, author=UserFactory())
    return HealthWarning.objects.create(
        seller=seller,
        market=seller.market,
        rule_code="overdue_ar",
        rule_set=rules,
        severity="high",
        metric="overdue_ar",
        value="120",
        first_seen_on=date(2026, 11, 20),
        last_seen_on=date(2026, 11, 20),
    )


PAGES.update(
    {
        "sellers:health_portfolio": Page(HEALTH),
        "sellers:health_worklist": Page(HEALTH),
        "sellers:health_warning_take": Page(HEALTH, kwargs=lambda: {"pk": _health_warning().pk}, post=True),
        "sellers:health_seller": Page(HEALTH, kwargs=_seller),
        "sellers:health_contact": Page(HEALTH, kwargs=_seller, post=True),
        "sellers:health_plan": Page(HEALTH, kwargs=_seller, post=True),
        "portal:health_performance": Page([R.SELLER_USER]),
        # Another seller's warning: a 404 for every seller user, like a missing one.
        "portal:health_acknowledge": Page(
            [], kwargs=lambda: {"kind": "warning", "pk": _health_warning().pk}, post=True
        ),
    }
)


def _health_draft():
    from sellers.models import WarningRuleSet
    from tests.factories import UserFactory, market

    return {"pk": WarningRuleSet.objects.create(market=market("GB"), version=99, params={}, author=UserFactory()).pk}


PAGES.update(
    {
        "sellers:health_rules": Page([R.SUPPORT_TIER2, R.FINANCE_SPECIALIST, R.FINANCE_APPROVER, R.AUDITOR]),
        "sellers:health_rule_draft": Page(HEALTH, post=True),
        "sellers:health_rule_activate": Page([R.FINANCE_APPROVER], kwargs=_health_draft, post=True),
    }
)
