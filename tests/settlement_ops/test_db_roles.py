"""The app's database role (manage.py db_roles) can read and write rows but cannot TRUNCATE,
drop or disable triggers, or switch off triggers with session_replication_role on the ledger,
posting and audit tables; on them it may only SELECT and INSERT."""

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection

from settlement_ops.management.commands.db_roles import append_only_tables

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROLE = "settlement_app_test"
PASSWORD = "app-test-password"


@pytest.fixture
def app_connection():
    call_command("db_roles", app_url=f"postgres://{ROLE}:{PASSWORD}@localhost/x")
    # The test database's own connection parameters (a socket directory included), as the role.
    conn = psycopg2.connect(**{**connection.get_connection_params(), "user": ROLE, "password": PASSWORD})
    conn.autocommit = True
    yield conn
    conn.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


def _refused(conn, statement) -> str:
    with conn.cursor() as cursor, pytest.raises(psycopg2.Error) as info:
        cursor.execute(statement)
    return info.value.pgcode


@pytest.mark.parametrize("table", append_only_tables())
def test_the_app_role_cannot_truncate_or_switch_off_the_guards(app_connection, table):
    trigger = f"{table}_immutable"
    # 42501 insufficient_privilege: not granted, not the owner, not a superuser
    assert _refused(app_connection, f"TRUNCATE {table}") == "42501"
    assert _refused(app_connection, f"TRUNCATE {table} CASCADE") == "42501"
    assert _refused(app_connection, f"ALTER TABLE {table} DISABLE TRIGGER {trigger}") == "42501"
    assert _refused(app_connection, f"ALTER TABLE {table} DISABLE TRIGGER ALL") == "42501"
    assert _refused(app_connection, f"DROP TRIGGER {trigger} ON {table}") == "42501"
    assert _refused(app_connection, "SET session_replication_role = replica") == "42501"
    assert _refused(app_connection, f"UPDATE {table} SET id = id WHERE false") == "42501"
    assert _refused(app_connection, f"DELETE FROM {table} WHERE false") == "42501"
    assert _refused(app_connection, f"DROP TABLE {table}") == "42501"


def test_the_app_role_reads_and_writes_ordinary_rows_but_owns_nothing(app_connection):
    with app_connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM settlement_ops_posting")
        cursor.execute("UPDATE settlement_ops_market SET name = name WHERE false")
        cursor.execute("DELETE FROM settlement_ops_idempotencyrecord WHERE false")
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        assert cursor.fetchone()[0] == 0
    assert _refused(app_connection, "CREATE TABLE sneaky (id int)") == "42501"
    assert _refused(app_connection, "TRUNCATE settlement_ops_market CASCADE") == "42501"
