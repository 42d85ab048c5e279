from django.db import migrations, models
from django.db.models import Q


# Postings are immutable (a trigger refuses UPDATE), so the trigger is lifted for this step only.
NULLS_TO_ZERO = [
    "ALTER TABLE settlement_ops_posting DISABLE TRIGGER settlement_ops_posting_immutable",
    "UPDATE settlement_ops_account SET party_id = 0 WHERE party_id IS NULL",
    "UPDATE settlement_ops_posting SET party_id = 0 WHERE party_id IS NULL",
    "ALTER TABLE settlement_ops_posting ENABLE TRIGGER settlement_ops_posting_immutable",
]


class Migration(migrations.Migration):
    dependencies = [("settlement_ops", "0004_more_account_kinds")]

    operations = [
        migrations.RemoveConstraint(model_name="account", name="account_unique_per_party"),
        migrations.RemoveConstraint(model_name="account", name="account_party_both_or_neither"),
        migrations.RunSQL(NULLS_TO_ZERO, migrations.RunSQL.noop),
        migrations.AlterField(model_name="account", name="party_id", field=models.BigIntegerField(default=0)),
        migrations.AlterField(model_name="posting", name="party_id", field=models.BigIntegerField(default=0)),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                fields=("market", "kind", "currency", "party_type", "party_id"), name="account_unique_per_party"
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=(Q(party_type="") & Q(party_id=0)) | (~Q(party_type="") & Q(party_id__gt=0)),
                name="account_party_both_or_neither",
            ),
        ),
    ]
