from django.db import migrations, models

from settlement_ops.db import unique_key_concurrently


class Migration(migrations.Migration):
    """UNIQUE (id, market): what a shipment's composite foreign key (billing 0013) references.
    Built CONCURRENTLY (`atomic = False`), so writes go on while it runs."""

    atomic = False

    dependencies = [('vendors', '0005_contract_guarantee')]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=unique_key_concurrently("vendors_vendor", "vendor_id_market_key", "id, market_id"),
            state_operations=[
                migrations.AddConstraint(
                    model_name="vendor",
                    constraint=models.UniqueConstraint(fields=("id", "market"), name="vendor_id_market_key"),
                ),
            ],
        ),
    ]
