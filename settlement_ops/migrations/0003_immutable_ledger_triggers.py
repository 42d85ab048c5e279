"""On PostgreSQL the database itself refuses UPDATE and DELETE of posted ledger rows and of the
audit log, so no code path (raw SQL, admin, a bug) can change history. TRUNCATE is left alone
for test database resets."""
from django.db import migrations

TABLES = ["settlement_ops_journalentry", "settlement_ops_posting", "settlement_ops_auditevent"]

FUNCTION = """
CREATE OR REPLACE FUNCTION settlement_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are immutable; post a reversal instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS settlement_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("settlement_ops", "0002_reference_data")]
    operations = [migrations.RunPython(forwards, backwards)]
