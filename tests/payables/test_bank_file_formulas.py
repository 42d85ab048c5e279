"""The CSV bank file neutralises formula triggers (= + - @ tab CR) in every text field, as the
xlsx exports do, also for a holder name stored before names were validated."""

import csv
import datetime as dt
import io

import pytest

from billing.payables import services
from settlement_ops.exports import csv_cell
from tests.factories import VendorBankAccountFactory, market
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db

HOLDER = '=HYPERLINK("http://evil.example","Click")'


def test_a_formula_holder_lands_quoted_in_the_csv_bank_file(approver):
    # given an approved account whose holder starts a formula
    vendor, rate_line, specialist = setup_vendor(bank=False)
    VendorBankAccountFactory(vendor=vendor, account_holder=HOLDER)
    cl = rated(vendor, rate_line)
    upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")], number="INV-1")
    run = services.payment_run_prepare(
        actor=specialist, market=market("GB"), currency="GBP", pay_date=dt.date(2026, 5, 1)
    )
    services.payment_run_approve(actor=approver, run=run)
    # when
    bank_file = services.payment_run_export(actor=specialist, run=run)
    # then no field starts a formula, and the amounts stay plain numbers
    rows = list(csv.reader(io.StringIO(bytes(bank_file.content).decode())))
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert rows[1][6] == "'" + HOLDER
    assert rows[1][5] == "5.94"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),
        ("Carrier", "Carrier"),
        (5, 5),
    ],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected
