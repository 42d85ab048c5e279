"""Compile locale/*/LC_MESSAGES/*.po into the .mo files Django reads (pure Python; run by `make`)."""

from django.core.management.base import BaseCommand, CommandError

from settlement_ops import catalogues


class Command(BaseCommand):
    # Build steps: they need neither the URL conf nor the database.
    requires_system_checks = []
    help = "Compile the .po catalogues to .mo (only those changed since the last compile, unless --force)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="recompile every catalogue")

    def handle(self, *args, force=False, **options):
        try:
            written = catalogues.compile_all(force=force)
        except catalogues.CatalogueError as exc:
            raise CommandError(f"Catalogue errors:\n{exc}") from None
        self.stdout.write(f"{len(written)} catalogue(s) compiled")
