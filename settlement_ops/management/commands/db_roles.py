"""Create or update the application's database role: DML only, no ownership.

Run as the owner of the tables (the role migrations run as), after `migrate`, on every deploy:

    DATABASE_URL=$DATABASE_OWNER_URL python manage.py migrate
    DATABASE_URL=$DATABASE_OWNER_URL python manage.py db_roles --app-url "$DATABASE_URL"

The app role may read and write rows, and nothing else: it owns no table, so it cannot TRUNCATE,
drop or disable triggers, alter tables or set `session_replication_role` (superuser only). On the
ledger, posting and audit tables it may only SELECT and INSERT: posted history is immutable.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg2 import sql

# Append-only tables: rows are written once and never changed or removed (triggers refuse it too).
APPEND_ONLY_MODELS = ["settlement_ops.JournalEntry", "settlement_ops.Posting", "settlement_ops.AuditEvent"]


def append_only_tables() -> list[str]:
    return [apps.get_model(label)._meta.db_table for label in APPEND_ONLY_MODELS]


def app_role_grant(*, role: str, password: str | None, schema: str = "public") -> None:
    """Create `role` if missing (LOGIN, no superuser/createdb/createrole/replication/bypassrls)
    and give it exactly the privileges the app needs. Idempotent."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        if owner == role:
            raise CommandError("Run this as the tables' owner, not as the app role.")
        ident = sql.Identifier(role)
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        cursor.execute(
            sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS").format(ident)
        )
        if password:
            cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(ident), [password])
        # Membership in the owner role would hand ownership rights back.
        cursor.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            "JOIN pg_roles g ON g.oid = m.roleid WHERE r.rolname = %s AND g.rolname = %s",
            [role, owner],
        )
        if cursor.fetchone():
            cursor.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(owner), ident))
        schema_ident = sql.Identifier(schema)
        cursor.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema_ident, ident))
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_ident, ident))
        cursor.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema_ident, ident))
        cursor.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(schema_ident, ident)
        )
        for table in append_only_tables():
            cursor.execute(sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), ident))
        cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema_ident, ident))
        # Tables a later migration creates are usable before this command runs again.
        cursor.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ).format(schema_ident, ident)
        )
        cursor.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
                schema_ident, ident
            )
        )


class Command(BaseCommand):
    help = "Create/update the app's non-owner database role (run as the owner, after migrate)."

    def add_arguments(self, parser):
        parser.add_argument("--app-url", help="The app's DATABASE_URL: its user and password name the role.")
        parser.add_argument("--role", help="Role name (instead of --app-url); the password is left unchanged.")

    def handle(self, *args, app_url=None, role=None, **options):
        password = None
        if app_url:
            parts = urlsplit(app_url)
            role, password = unquote(parts.username or ""), unquote(parts.password) if parts.password else None
        if not role:
            raise CommandError("Give --app-url or --role.")
        with transaction.atomic():
            app_role_grant(role=role, password=password)
        self.stdout.write(f"Role {role}: DML on all tables, SELECT/INSERT only on {', '.join(append_only_tables())}.")
