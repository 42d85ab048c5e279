from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Risk"

    def ready(self):
        from .holds import register_hooks

        # Risk is the source of payment-run exclusions and extra approvals for held vendors; the
        # payables app exposes the registries, risk fills them (payables never imports risk).
        register_hooks()
