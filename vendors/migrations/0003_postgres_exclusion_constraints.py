"""Cross-row invariants the database enforces itself (the services also check them, under a lock,
to answer with a readable message): effective contracts of a vendor/market/service never overlap in time, and rate-line
brackets of one lane never overlap in weight."""
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

FORWARD = [
    """
    ALTER TABLE vendors_contract ADD CONSTRAINT contract_effective_no_overlap
    EXCLUDE USING gist (
        vendor_id WITH =, market_id WITH =, service_level WITH =,
        daterange(valid_from, valid_to, '[]') WITH &&
    ) WHERE (status IN ('active', 'expired', 'terminated'))
    """,
    """
    ALTER TABLE vendors_rateline ADD CONSTRAINT rate_line_bracket_no_overlap
    EXCLUDE USING gist (
        version_id WITH =, service_level WITH =, origin_zone WITH =, destination_zone WITH =,
        numrange(weight_from_kg, weight_to_kg, '(]') WITH &&
    )
    """,
]
BACKWARD = [
    "ALTER TABLE vendors_contract DROP CONSTRAINT IF EXISTS contract_effective_no_overlap",
    "ALTER TABLE vendors_rateline DROP CONSTRAINT IF EXISTS rate_line_bracket_no_overlap",
]


class Migration(migrations.Migration):
    dependencies = [("vendors", "0002_contracts_rate_cards")]
    operations = [
        BtreeGistExtension(),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
