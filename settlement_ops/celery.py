import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

app = Celery("settlement_ops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
