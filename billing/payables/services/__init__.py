"""Payables use cases, one module per topic; import them from here."""

from .audit import invoice_approve, invoice_audit, invoice_lines_decide  # noqa: F401
from .intake import (  # noqa: F401
    invoice_import_create,
    invoice_import_run,
    mapping_save,
)
from .payables import (  # noqa: F401
    audit_policy_save,
    payable_hold,
    payable_release,
    vendor_deduction_create,
)
from .payment_runs import (  # noqa: F401
    payment_mark,
    payment_results_import,
    payment_run_approve,
    payment_run_cancel,
    payment_run_export,
    payment_run_prepare,
    payment_run_remove_item,
    remittance_email,
)
