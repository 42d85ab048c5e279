from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SettlementOpsConfig(AppConfig):
    name = "settlement_ops"
    verbose_name = "Settlement kernel"

    def ready(self):
        from .roles import sync_roles
        from .signals import ensure_reference_data_after_migrate

        # Sent once per app; sync_roles acts on the last, which sees all permissions.
        post_migrate.connect(sync_roles, dispatch_uid="settlement_ops.sync_roles")
        # A flushed test database gets its markets back, like its groups.
        post_migrate.connect(ensure_reference_data_after_migrate, dispatch_uid="settlement_ops.reference_data")
