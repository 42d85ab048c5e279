from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Run the nightly jobs once, in order (in-process without REDIS_URL, else queued to workers)."

    def handle(self, *args, **options):
        for name in settings.NIGHTLY_TASKS:
            self.stdout.write(f"Running {name} ...")
            result = import_string(name).delay()
            if settings.CELERY_TASK_ALWAYS_EAGER:
                self.stdout.write(f"  {result.result}")
            else:
                self.stdout.write(f"  queued as {result.id}")
