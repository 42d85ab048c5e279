"""The aging API's body is built without DRF's per-field machinery; it must be exactly what
AgingSerializer (the documented schema) renders, on a real report and on awkward values."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing.receivables import selectors
from billing.receivables.api import AgingSerializer, aging_body
from settlement_ops.models import FxRate
from settlement_ops.money import Money
from tests.receivables.helpers import SEP, World


def _serialized(report: dict) -> dict:
    """The report as AgingSerializer renders it (how the API built its body before)."""

    def amounts(buckets: dict) -> dict:
        return {key: (value.amount if value is not None else None) for key, value in buckets.items()}

    body = {
        **report,
        "rows": [{**row, "reporting": amounts(row["reporting"])} for row in report["rows"]],
        "totals": [{"currency": currency, **buckets} for currency, buckets in sorted(report["totals"].items())],
        "reporting": amounts(report["reporting"]),
    }
    return AgingSerializer(body).data


@pytest.mark.django_db
def test_the_body_of_a_real_report_is_what_the_serializer_renders():
    w = World()
    late, current = w.seller(), w.seller()
    w.invoice(late, "1.000", period=SEP)
    w.invoice(current, "3.000")
    w.invoice(current, "7.000", period=SEP)
    as_of = date(2026, 11, 20)
    FxRate.objects.create(rate_date=as_of, currency="GBP", rate=D("1.1734"))
    report = selectors.aging(as_of=as_of, market=w.market)
    assert len(report["rows"]) == 2 and not report["fx_missing"]
    assert aging_body(report) == _serialized(report)


def test_awkward_amounts_and_a_missing_rate_render_as_the_serializer_renders_them():
    keys = [*selectors.BUCKET_KEYS, "total"]
    odd = [D("1234567890.123456"), D("-0.00005"), D("0"), D("7.6"), D("0.00015"), 12]
    report = {
        "as_of": date(2026, 12, 7),
        "rows": [
            {
                "market_id": "ID",
                "seller__code": "S-ID-1",
                "seller__name": "Toko Ümlaut & Co",
                "currency": "IDR",
                **dict(zip(keys, odd, strict=True)),
                "reporting": dict.fromkeys(keys),  # no IDR rate
            },
            {
                "market_id": "GB",
                "seller__code": "S-GB-1",
                "seller__name": "Acme",
                "currency": "GBP",
                **dict.fromkeys(keys, D("8.75")),
                "reporting": {key: Money(D("10.27"), "EUR") for key in keys},
            },
        ],
        "totals": {"IDR": dict(zip(keys, odd, strict=True)), "GBP": dict.fromkeys(keys, D("8.75"))},
        "reporting_currency": "EUR",
        "reporting": {key: Money(D("10.27"), "EUR") for key in keys},
        "fx_missing": ["IDR"],
    }
    body = aging_body(report)
    assert body == _serialized(report)
    assert body["rows"][0]["current"] == "1234567890.1235" and body["rows"][0]["reporting"]["total"] is None
    assert [total["currency"] for total in body["totals"]] == ["GBP", "IDR"]
