"""Roles are Django groups; each app declares what its roles may do in `<app>/roles.py`.

`ROLE_PERMISSIONS` in an app's roles module maps a role name to permission strings
("app_label.codename"). `sync_roles()` (run after every migrate) makes each group hold exactly
the union of what the apps declare, so a permission change is a code change with history.
"""

from importlib import import_module

from django.apps import apps
from django.contrib.auth.models import Group, Permission


class Role:
    FINANCE_SPECIALIST = "finance_specialist"
    FINANCE_APPROVER = "finance_approver"
    AUDITOR = "auditor"
    SUPPORT_TIER1 = "support_tier1"
    SUPPORT_TIER2 = "support_tier2"
    COMPENSATION_QA = "compensation_qa"
    RISK_ANALYST = "risk_analyst"
    INTEGRATION = "integration"
    SELLER_USER = "seller_user"

    LABELS = {
        FINANCE_SPECIALIST: "Finance specialist",
        FINANCE_APPROVER: "Finance approver",
        AUDITOR: "Auditor",
        SUPPORT_TIER1: "Support agent tier 1",
        SUPPORT_TIER2: "Support agent tier 2",
        COMPENSATION_QA: "Compensation QA",
        RISK_ANALYST: "Risk analyst",
        INTEGRATION: "Integration (API)",
        SELLER_USER: "Seller user",
    }
    ALL = list(LABELS)
    STAFF = [FINANCE_SPECIALIST, FINANCE_APPROVER, AUDITOR, SUPPORT_TIER1, SUPPORT_TIER2, COMPENSATION_QA, RISK_ANALYST]
    FINANCE = [FINANCE_SPECIALIST, FINANCE_APPROVER]


_STAFF_READ = ["settlement_ops.access_staff_pages", "settlement_ops.view_market", "settlement_ops.view_fxrate"]
_LEDGER_READ = ["settlement_ops.view_account", "settlement_ops.view_journalentry", "settlement_ops.view_posting"]

_PERIOD_READ = [
    "settlement_ops.view_accountingperiod",
    "settlement_ops.view_periodworkbook",
    "settlement_ops.download_periodworkbook",
]

ROLE_PERMISSIONS = {
    # Specialists prepare a close (soft-close) and ask for a reopening; approvers close and reopen.
    Role.FINANCE_SPECIALIST: _STAFF_READ
    + _LEDGER_READ
    + _PERIOD_READ
    + ["settlement_ops.add_fxrate", "settlement_ops.export_ledger", "settlement_ops.change_accountingperiod"],
    Role.FINANCE_APPROVER: _STAFF_READ
    + _LEDGER_READ
    + _PERIOD_READ
    + [
        "settlement_ops.export_ledger",
        "settlement_ops.change_accountingperiod",
        "settlement_ops.close_accountingperiod",
    ],
    Role.AUDITOR: _STAFF_READ
    + _LEDGER_READ
    + _PERIOD_READ
    + ["settlement_ops.export_ledger", "settlement_ops.view_auditevent"],
    Role.SUPPORT_TIER1: _STAFF_READ,
    Role.SUPPORT_TIER2: _STAFF_READ,
    Role.COMPENSATION_QA: _STAFF_READ,
    Role.RISK_ANALYST: _STAFF_READ + _LEDGER_READ + ["settlement_ops.view_auditevent"],
    # IT reads the journal and the trial balance through the API (issue #10).
    Role.INTEGRATION: ["settlement_ops.use_api", "settlement_ops.view_market"] + _LEDGER_READ,
    Role.SELLER_USER: ["settlement_ops.access_seller_portal"],
}


def collect_role_permissions() -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {role: set() for role in Role.ALL}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.roles")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.roles":
                raise
            continue
        for role, perms in getattr(module, "ROLE_PERMISSIONS", {}).items():
            merged.setdefault(role, set()).update(perms)
    return merged


def sync_roles(app_config=None, **_kwargs) -> None:
    """The role groups and their permissions. As a post_migrate receiver (sent once per app) it
    works only for the last app with models, when every app's permissions exist: once per
    migrate or test flush instead of once per app."""
    if app_config is not None and app_config is not _last_app_with_models():
        return
    wanted = collect_role_permissions()
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")}
    for role, perms in wanted.items():
        group, _ = Group.objects.get_or_create(name=role)
        # Permissions of apps not migrated yet are skipped; the next post_migrate adds them.
        group.permissions.set([by_name[p] for p in perms if p in by_name])


def _last_app_with_models():
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    if not hasattr(user, "_role_cache"):
        user._role_cache = set(user.groups.values_list("name", flat=True))
    return user._role_cache


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def is_staff_user(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.has_perm("settlement_ops.access_staff_pages"))


def is_seller_user(user) -> bool:
    return user.is_authenticated and not user.is_superuser and has_role(user, Role.SELLER_USER)
