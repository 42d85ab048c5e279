"""Merge every marked string of the templates and code into locale/<lang>/LC_MESSAGES/django.po
(pure Python: GNU gettext is not needed). Translate the new entries, then `make` compiles them."""

from django.core.management.base import BaseCommand

from settlement_ops import catalogues


class Command(BaseCommand):
    # Build steps: they need neither the URL conf nor the database.
    requires_system_checks = []
    help = "Extract translatable strings into the .po catalogues (Babel; no GNU gettext needed)."

    def handle(self, *args, **options):
        for language, missing in catalogues.update().items():
            self.stdout.write(f"{catalogues.po_path(language)}: {missing} untranslated")
