import django.db.models.deletion
from django.db import migrations, models

from settlement_ops.db import drop_indexes_concurrently

# Indexes every journal entry and posting pays for on write and nothing reads: a single-column
# index whose column leads another index of the table (market_id -> (market_id, entry_date),
# account_id -> (account_id, entry_date)), and varchar_pattern_ops twins that serve only LIKE
# 'prefix%' on a market code or an idempotency key, which nothing runs. Django makes a _like twin
# again if these fields are ever altered; drop it again then.
REDUNDANT_INDEXES = [
    ("settlement_ops_journalentry_market_id_98a599f3", "settlement_ops_journalentry (market_id)"),
    ("settlement_ops_journalentry_market_id_98a599f3_like", "settlement_ops_journalentry (market_id varchar_pattern_ops)"),
    (
        "settlement_ops_journalentry_idempotency_key_1cf00ca1_like",
        "settlement_ops_journalentry (idempotency_key varchar_pattern_ops)",
    ),
    ("settlement_ops_posting_account_id_a21e86d6", "settlement_ops_posting (account_id)"),
    ("settlement_ops_posting_market_id_6260e7f0_like", "settlement_ops_posting (market_id varchar_pattern_ops)"),
]


class Migration(migrations.Migration):
    # DROP/CREATE INDEX CONCURRENTLY cannot run in a transaction; AlterField would drop and re-add
    # the foreign keys (re-validating them over the ledger under a lock). Only indexes change.
    atomic = False

    dependencies = [
        ("settlement_ops", "0010_import_jobs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=drop_indexes_concurrently(REDUNDANT_INDEXES),
            state_operations=[
                migrations.AlterField(
                    model_name="journalentry",
                    name="market",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="journal_entries",
                        to="settlement_ops.market",
                    ),
                ),
                migrations.AlterField(
                    model_name="posting",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="postings",
                        to="settlement_ops.account",
                    ),
                ),
            ],
        ),
    ]
