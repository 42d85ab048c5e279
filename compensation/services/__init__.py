"""Compensation use cases, one module per topic; import them from here."""

from ..intake import parse_upload, requests_intake  # noqa: F401
from .actions import corrective_action_save, digest_send  # noqa: F401
from .audits import audit_run, audit_run_all_markets, liable_override  # noqa: F401
from .chargebacks import (  # noqa: F401
    chargeback_post,
    chargebacks_post_due,
    dispute_approve,
    dispute_decide,
    dispute_open,
)
from .claims import guarantee_claims_build, guarantee_claims_check_credits  # noqa: F401
from .policies import (  # noqa: F401
    DEFAULT_ATTRIBUTES,
    policy_activate,
    policy_attribute_save,
    policy_draft_create,
)
from .qa import qa_review_submit, qa_sample_draw  # noqa: F401
from .uploads import upload_confirm, upload_preview  # noqa: F401
