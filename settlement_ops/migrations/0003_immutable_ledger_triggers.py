"""The database itself refuses UPDATE and DELETE of posted ledger rows and of the
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


FORWARD = [FUNCTION] + [
    f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change();"
    for table in TABLES
]
BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};" for table in TABLES] + [
    "DROP FUNCTION IF EXISTS settlement_refuse_change();"
]


class Migration(migrations.Migration):
    dependencies = [("settlement_ops", "0002_reference_data")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
