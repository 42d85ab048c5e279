"""A charge line's key is its shipment and generation (shipment id x 10,000 + generation, billing
0014/0015): the primary key is the guard against double rating and the way to a shipment's lines."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import services
from billing.models import ChargeLine, Shipment
from billing.payables.models import VendorInvoice, VendorInvoiceLine
from tests.billing.helpers import gb_setup, make_shipment, resend_weight
from tests.factories import ChargeLineFactory, market
from tests.receivables.helpers import World

pytestmark = pytest.mark.django_db

D = Decimal
REKEY = importlib.import_module("billing.migrations.0014_charge_line_ids_from_shipment_generation").REKEY


def _rate(business_date=date(2026, 11, 10), capture=None):
    with capture(execute=True):
        return services.billing_run_start(market=market("GB"), business_date=business_date)


def test_a_rating_and_its_delta_are_keyed_by_shipment_and_generation(django_capture_on_commit_callbacks):
    # given a shipment rated once, with an id whose key is beyond INTEGER (3,000,000 x 10,000)
    vendor, seller, _, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_shipment SET id = 3000000 WHERE id = %s", [shipment.pk])
    shipment = Shipment.objects.get(pk=3_000_000)
    _rate(capture=django_capture_on_commit_callbacks)
    # when the vendor corrects its weight and the next run rates it again
    resend_weight(shipment, "2.3")
    _rate(capture=django_capture_on_commit_callbacks)
    # then its original and its delta are keyed by the shipment and their generation, and found
    # by the key's range
    lines = list(ChargeLine.objects.of_shipments(shipment.pk).values_list("id", "generation", "kind", "vendor_net"))
    assert lines == [
        (shipment.pk * 10_000 + 1, 1, "original", D("3.95")),
        (shipment.pk * 10_000 + 2, 2, "delta", D("1.90")),
    ]
    assert list(ChargeLine.objects.filter(shipment=shipment).order_by("id").values_list("id", flat=True)) == [
        line[0] for line in lines
    ]


def _write_immediately(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)


def test_the_database_refuses_a_key_that_is_not_the_shipment_and_generation():
    line = ChargeLineFactory()
    # a key of another shipment, or of another generation
    for change in ("id = id + 10000", "id = id + 1"):
        with pytest.raises(IntegrityError, match="charge_line_id_is_shipment_generation"):
            _write_immediately(f"UPDATE billing_chargeline SET {change} WHERE id = %s", [line.pk])
    # the same generation of the same shipment a second time: the primary key refuses it
    with pytest.raises(IntegrityError, match="billing_chargeline_pkey"):
        _write_immediately("INSERT INTO billing_chargeline SELECT * FROM billing_chargeline WHERE id = %s", [line.pk])
    assert list(ChargeLine.objects.values_list("id", flat=True)) == [line.shipment_id * 10_000 + 1]


def test_a_shipments_lines_are_read_through_the_primary_key():
    line = ChargeLineFactory()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plans = {}
        for name, qs in {
            "by key range": ChargeLine.objects.of_shipments(line.shipment_id),
            "by shipment column": ChargeLine.objects.filter(shipment_id=line.shipment_id),
        }.items():
            sql, params = qs.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond: ((id >= " in plans["by key range"]
    # the control: no index has the shipment column (the key serves it): read whole, then filtered
    assert "Index Cond" not in plans["by shipment column"]


def test_the_rekeying_moves_lines_and_the_invoice_lines_that_point_at_them():
    # given two rated shipments on a seller invoice, one of them on a vendor invoice too, with
    # keys from a sequence as before 0014, each the other's new key: every new key is taken when
    # it is written, in the lines' primary key and in the seller invoice lines' unique column
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000", "2.000")
    first, second = ChargeLine.objects.filter(seller=seller).order_by("shipment_id")
    vendor_invoice = VendorInvoice.objects.create(
        vendor=w.vendor, market=w.market, number="V-1", invoice_date=date(2026, 11, 5), currency="GBP", line_count=1
    )
    vendor_line = VendorInvoiceLine.objects.create(
        invoice=vendor_invoice, line_no=1, tracking_number=first.shipment.tracking_number, charge_line=first
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before the ALTER
        cursor.execute("ALTER TABLE billing_chargeline DROP CONSTRAINT charge_line_id_is_shipment_generation")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as in a migration's transaction
        for table, column in (
            ("billing_chargeline", "id"),
            ("receivables_invoiceline", "charge_line_id"),
            ("payables_vendorinvoiceline", "charge_line_id"),
        ):
            for before, after in ((first.pk, -1), (second.pk, first.pk), (-1, second.pk)):  # a swap
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {column} = %s", [after, before])
        assert ChargeLine.objects.get(shipment=first.shipment).pk == second.pk
        # when the migration's statements run (and its rule is put back, checking every line)
        cursor.execute(REKEY)
        cursor.execute(
            "ALTER TABLE billing_chargeline ADD CONSTRAINT charge_line_id_is_shipment_generation "
            "CHECK (id = shipment_id * 10000 + generation AND generation >= 1 AND generation < 10000)"
        )
    # then each line has its key, and the invoice lines follow their charge line
    keys = {line.shipment_id: line.shipment_id * 10_000 + 1 for line in (first, second)}
    assert dict(ChargeLine.objects.filter(seller=seller).values_list("shipment_id", "id")) == keys
    assert dict(invoice.lines.values_list("shipment_id", "charge_line_id")) == keys
    assert VendorInvoiceLine.objects.get(pk=vendor_line.pk).charge_line_id == keys[first.shipment_id]
    # and running them again changes nothing
    with connection.cursor() as cursor:
        cursor.execute(REKEY)
    assert dict(ChargeLine.objects.filter(seller=seller).values_list("shipment_id", "id")) == keys


def test_the_charge_lines_api_finds_a_shipments_lines_by_their_key(api_as, django_capture_on_commit_callbacks):
    # given a shipment rated, then re-rated after a correction, and another shipment of the same
    # tracking number at another vendor, rated once
    vendor, seller, _, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1")
    other_vendor, other_seller, _, _ = gb_setup()
    twin = make_shipment(vendor=other_vendor, seller=other_seller, weight="1", tracking=shipment.tracking_number)
    _rate(capture=django_capture_on_commit_callbacks)
    resend_weight(shipment, "2.3")
    _rate(capture=django_capture_on_commit_callbacks)
    api = api_as("finance_specialist")

    # when / then: by shipment, its two lines to the cent, read by the key's range
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/charge-lines/?shipment={shipment.pk}")
    assert response.status_code == 200, response.content
    rows = [(row["shipment"], row["generation"], row["vendor_net"]) for row in response.json()["results"]]
    assert rows == [(shipment.pk, 1, "3.9500"), (shipment.pk, 2, "1.9000")]
    sql = " ".join(q["sql"] for q in queries.captured_queries if "billing_chargeline" in q["sql"])
    assert f'"billing_chargeline"."id" >= {shipment.pk * 10_000 + 1}' in sql
    assert f'"billing_chargeline"."shipment_id" = {shipment.pk}' not in sql
    # by tracking number: both vendors' shipments of that number; an unknown number, none
    tracked = api.get(f"/api/charge-lines/?tracking_number={shipment.tracking_number}").json()["results"]
    assert sorted((row["shipment"], row["generation"]) for row in tracked) == sorted(
        [(shipment.pk, 1), (shipment.pk, 2), (twin.pk, 1)]
    )
    assert api.get("/api/charge-lines/?tracking_number=NO-SUCH-PARCEL").json()["results"] == []
    # an unknown shipment is refused with the field named, as before
    refused = api.get("/api/charge-lines/?shipment=999999999")
    assert refused.status_code == 400 and "shipment" in refused.json()["error"]["fields"]
