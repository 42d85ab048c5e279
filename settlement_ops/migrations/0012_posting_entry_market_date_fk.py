import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from settlement_ops.db import foreign_key_validated, unique_key_concurrently

ENTRY = "settlement_ops_journalentry"
POSTING = "settlement_ops_posting"
KEY = "journal_entry_market_date_key"
FOREIGN_KEY = "posting_entry_market_date_fk"


class Migration(migrations.Migration):
    """A posting's entry, market and date checked by one composite foreign key against the
    entry's (id, market, entry_date), in place of a key on entry and one on market: the posting's
    copies of the entry's market and date can no longer disagree with it, and a bulk posting
    (a statement import writes tens of thousands) pays one check a row instead of two.

    The new key is in place and validated before the old ones go, so no moment is unchecked; the
    unique index is built CONCURRENTLY and the key added NOT VALID, then validated, so postings go
    on being written meanwhile."""

    atomic = False

    dependencies = [
        ("settlement_ops", "0011_ledger_drop_prefix_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=unique_key_concurrently(ENTRY, KEY, "id, market_id, entry_date"),
            state_operations=[
                migrations.AddConstraint(
                    model_name="journalentry",
                    constraint=models.UniqueConstraint(fields=("id", "market", "entry_date"), name=KEY),
                ),
            ],
        ),
        *foreign_key_validated(
            POSTING, FOREIGN_KEY, "entry_id, market_id, entry_date", f"{ENTRY} (id, market_id, entry_date)"
        ),
        migrations.AlterField(
            model_name="posting",
            name="entry",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="settlement_ops.journalentry",
            ),
        ),
        migrations.AlterField(
            model_name="posting",
            name="market",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="settlement_ops.market",
            ),
        ),
    ]
