import django.db.models.deletion
from django.db import migrations, models

from settlement_ops.db import drop_indexes_concurrently

# Indexes that cash application pays for on every receipt, invoice update and history row and
# nothing reads: single-column indexes whose column leads another index of the table (invoice
# market_id -> (market_id, status, due_date), seller_id -> (seller_id, issue_date); receipt
# market_id -> (market_id, bank_reference) and (market_id, status)), and varchar_pattern_ops twins
# that serve only LIKE 'prefix%' on a market code or an invoice number, which nothing runs. Django
# makes a _like twin again if these fields are ever altered; drop it again then.
REDUNDANT_INDEXES = [
    ("receivables_invoice_market_id_22f4fc50", "receivables_invoice (market_id)"),
    ("receivables_invoice_market_id_22f4fc50_like", "receivables_invoice (market_id varchar_pattern_ops)"),
    ("receivables_invoice_seller_id_0d4853b6", "receivables_invoice (seller_id)"),
    ("receivables_invoice_number_87a78cf1_like", "receivables_invoice (number varchar_pattern_ops)"),
    ("receivables_receipt_market_id_ee7545d5", "receivables_receipt (market_id)"),
    ("receivables_receipt_market_id_ee7545d5_like", "receivables_receipt (market_id varchar_pattern_ops)"),
    (
        "receivables_historicalinvoice_market_id_39d38cc8_like",
        "receivables_historicalinvoice (market_id varchar_pattern_ops)",
    ),
    (
        "receivables_historicalinvoice_number_3e85bb07_like",
        "receivables_historicalinvoice (number varchar_pattern_ops)",
    ),
    (
        "receivables_historicalreceipt_market_id_71cc790e_like",
        "receivables_historicalreceipt (market_id varchar_pattern_ops)",
    ),
]


class Migration(migrations.Migration):
    # DROP/CREATE INDEX CONCURRENTLY cannot run in a transaction; AlterField would drop and re-add
    # the foreign keys (re-validating them under a lock that stops cash application).
    atomic = False

    dependencies = [
        ("receivables", "0006_statement_ar_statement_period_seller"),
        ("sellers", "0003_seller_health"),
        ("settlement_ops", "0011_ledger_drop_prefix_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=drop_indexes_concurrently(REDUNDANT_INDEXES),
            state_operations=[
                migrations.AlterField(
                    model_name="invoice",
                    name="market",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="settlement_ops.market",
                    ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="seller",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invoices",
                        to="sellers.seller",
                    ),
                ),
                migrations.AlterField(
                    model_name="receipt",
                    name="market",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="settlement_ops.market",
                    ),
                ),
            ],
        ),
    ]
