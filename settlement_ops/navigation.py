"""Area apps and their navigation. Each area app may have `urls.py` (pages, with app_name and a
NAV list of (section, [(label, url name, permission)])) and `api.py` (register_routes(router))."""
from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

# App labels in navigation order; payables and receivables are sub-apps of billing/.
AREA_APPS = ["vendors", "billing", "payables", "receivables", "sellers", "compensation", "risk"]

KERNEL_NAV = [
    ("Ledger", [
        ("Trial balance", "trial_balance", "settlement_ops.view_account"),
        ("Journal", "journal_list", "settlement_ops.view_journalentry"),
        ("Markets", "markets", "settlement_ops.view_market"),
        ("FX rates", "fx_rates", "settlement_ops.view_fxrate"),
        ("Audit log", "audit_log", "settlement_ops.view_auditevent"),
    ]),
]


def app_module(label: str, name: str):
    """`<app>.<name>` of an installed app by label, or None when the app has no such module."""
    if label not in apps.app_configs:
        return None
    config = apps.get_app_config(label)
    if module_has_submodule(config.module, name):
        return import_module(f"{config.name}.{name}")
    return None


def navigation_sections():
    sections = []
    for app in AREA_APPS:
        module = app_module(app, "urls")
        sections.extend(getattr(module, "NAV", []) if module else [])
    return sections + KERNEL_NAV
