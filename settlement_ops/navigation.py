"""Area apps and their navigation. Each area app may have `urls.py` (pages, with app_name and a
NAV list of (section, [(label, url name, permission)])), `api.py` (register_routes(router)) and
`portal_urls.py` (seller portal pages: `urlpatterns`, named in the one `portal` namespace),
`work_queue.py` (the home's work items: settlement_ops.work_queue), `overview.py` (the finance
overview's charts: settlement_ops.charts) and `summaries.py` (their part of the seller and vendor
pages: sellers.selectors.seller_account_summary, vendors.selectors.vendor_account_summary)."""

import functools
from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

# App labels in navigation order; payables and receivables are sub-apps of billing/.
AREA_APPS = ["vendors", "billing", "payables", "receivables", "sellers", "compensation", "risk"]

KERNEL_NAV = [
    (
        "Ledger",
        [
            ("Finance overview", "finance_overview", "settlement_ops.view_account"),
            ("Trial balance", "trial_balance", "settlement_ops.view_account"),
            ("Journal", "journal_list", "settlement_ops.view_journalentry"),
            ("Periods", "periods", "settlement_ops.view_accountingperiod"),
            ("Markets", "markets", "settlement_ops.view_market"),
            ("FX rates", "fx_rates", "settlement_ops.view_fxrate"),
            ("Audit log", "audit_log", "settlement_ops.view_auditevent"),
            ("API tokens", "api_tokens", "settlement_ops.manage_apitoken"),
        ],
    ),
]


def app_module(label: str, name: str):
    """`<app>.<name>` of an installed app by label, or None when the app has no such module."""
    if label not in apps.app_configs:
        return None
    return _submodule(apps.get_app_config(label).name, name)


@functools.cache
def _submodule(package: str, name: str):
    # Looking for the file costs a filesystem search; pages ask on every request (navigation).
    module = import_module(package)
    return import_module(f"{package}.{name}") if module_has_submodule(module, name) else None


def area_modules(name: str):
    """`<app>.<name>` of every area app that has one, in AREA_APPS order."""
    modules = (app_module(app, name) for app in AREA_APPS)
    return [module for module in modules if module is not None]


def portal_urlpatterns() -> list:
    """The seller portal's pages: every area app's `portal_urls.urlpatterns`, in AREA_APPS order.
    The kernel includes them under /portal/ as the `portal` namespace, so `portal:invoices` works
    without the portal (sellers) importing the apps that own the pages."""
    return [pattern for module in area_modules("portal_urls") for pattern in module.urlpatterns]


def navigation_sections():
    return [section for module in area_modules("urls") for section in getattr(module, "NAV", [])] + KERNEL_NAV
