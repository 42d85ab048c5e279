from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SettlementOpsConfig(AppConfig):
    name = "settlement_ops"
    verbose_name = "Settlement kernel"

    def ready(self):
        from . import signals  # noqa: F401  (sign-in logging)
        from .roles import sync_roles

        # Every app's post_migrate: the last one sees all permissions.
        post_migrate.connect(sync_roles, dispatch_uid="settlement_ops.sync_roles")
