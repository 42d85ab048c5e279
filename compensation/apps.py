from django.apps import AppConfig


class CompensationConfig(AppConfig):
    """Compensation requests, audit policies, QA, chargebacks, disputes and guarantee claims."""

    name = "compensation"
    verbose_name = "Compensation"
