"""Charge-line ids become shipment id x 10,000 + generation (0015 makes that the rule): existing
lines get their new id and the invoice lines that point at them follow, in one transaction.

Every id goes negative first and is turned positive after: a new id may be an old id still in
place (a line's primary key, or a seller invoice line's one-to-one charge line, both unique and
checked row by row), and no negative id is one."""

from django.db import migrations

REKEY = """
UPDATE receivables_invoiceline il SET charge_line_id = -(cl.shipment_id * 10000 + cl.generation)
FROM billing_chargeline cl WHERE cl.id = il.charge_line_id AND cl.id <> cl.shipment_id * 10000 + cl.generation;
UPDATE payables_vendorinvoiceline vl SET charge_line_id = -(cl.shipment_id * 10000 + cl.generation)
FROM billing_chargeline cl WHERE cl.id = vl.charge_line_id AND cl.id <> cl.shipment_id * 10000 + cl.generation;
UPDATE billing_chargeline SET id = -(shipment_id * 10000 + generation) WHERE id <> shipment_id * 10000 + generation;
UPDATE receivables_invoiceline SET charge_line_id = -charge_line_id WHERE charge_line_id < 0;
UPDATE payables_vendorinvoiceline SET charge_line_id = -charge_line_id WHERE charge_line_id < 0;
UPDATE billing_chargeline SET id = -id WHERE id < 0;
SET CONSTRAINTS ALL IMMEDIATE;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_shipment_market_composite_keys"),
        ("receivables", "0008_history_unindexed_copies"),
        ("payables", "0006_vendorinvoice_payables_invoice_inbox_order"),
    ]

    operations = [migrations.RunSQL(REKEY, migrations.RunSQL.noop)]
