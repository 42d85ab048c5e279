"""A shipment's market is its vendor's and its seller's: the database holds it with two composite
foreign keys (billing 0013), whatever writes the row, and the admin keeps a party's market fixed."""

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import Shipment
from tests.factories import SellerFactory, ShipmentFactory, UserFactory, VendorFactory, market

pytestmark = pytest.mark.django_db


def _write_immediately(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("seller_id = %(other_seller)s", "shipment_seller_of_market_fk"),
        ("vendor_id = %(other_vendor)s", "shipment_vendor_of_market_fk"),
        ("market_id = 'DE'", "shipment_vendor_of_market_fk"),
        ("seller_id = 0", "shipment_seller_of_market_fk"),
    ],
    ids=["seller of another market", "vendor of another market", "another market", "no seller"],
)
def test_the_database_refuses_a_shipment_whose_parties_are_not_of_its_market(change, key):
    # given a GB shipment, and a DE seller and vendor
    shipment = ShipmentFactory()
    ids = {
        "other_seller": SellerFactory(market=market("DE")).pk,
        "other_vendor": VendorFactory(market=market("DE")).pk,
        "pk": shipment.pk,
    }
    # when a writer bypassing intake's checks moves one side to another market
    with pytest.raises(IntegrityError, match=key):
        _write_immediately(f"UPDATE billing_shipment SET {change} WHERE id = %(pk)s", ids)
    # then nothing changed
    stored = Shipment.objects.values("market_id", "vendor_id", "seller_id").get(pk=shipment.pk)
    assert stored == {"market_id": "GB", "vendor_id": shipment.vendor_id, "seller_id": shipment.seller_id}


def test_a_shipment_of_its_markets_vendor_and_seller_is_stored():
    shipment = ShipmentFactory(vendor=VendorFactory(market=market("DE")))
    assert (shipment.market_id, shipment.seller.market_id) == ("DE", "DE")
    assert Shipment.objects.filter(pk=shipment.pk, vendor__market="DE", seller__market="DE").exists()


@pytest.mark.parametrize(("factory", "path"), [(SellerFactory, "sellers/seller"), (VendorFactory, "vendors/vendor")])
def test_the_admin_shows_a_partys_market_read_only_once_it_exists(client, factory, path):
    # given a superuser and a seller or vendor
    admin = UserFactory(is_staff=True, is_superuser=True)
    party = factory()
    client.force_login(admin)
    # when they open the party's change page, and the add page
    change = client.get(f"/admin/{path}/{party.pk}/change/")
    add = client.get(f"/admin/{path}/add/")
    # then the market is shown, not offered for change; a new party still picks one
    assert change.status_code == 200 and add.status_code == 200
    assert 'name="market"' not in change.content.decode()
    assert "field-market" in change.content.decode()
    assert 'name="market"' in add.content.decode()


@pytest.mark.parametrize(("factory", "path"), [(SellerFactory, "sellers/seller"), (VendorFactory, "vendors/vendor")])
def test_an_admin_import_that_moves_a_party_to_another_market_is_refused_by_row_and_field(client, factory, path):
    # given a party with a shipment in GB, another one, and a superuser
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = UserFactory(is_staff=True, is_superuser=True)
    party, renamed = factory(), factory()
    ShipmentFactory(**{path.split("/")[1]: party})
    client.force_login(admin)
    form = client.get(f"/admin/{path}/import/")
    csv_format = next(v for v, label in form.context["form"].fields["format"].choices if label == "csv")
    rows = f"id,code,market\n{renamed.pk},{renamed.code}-NEW,GB\n{party.pk},{party.code},DE\n"
    # when they import a sheet that renames one and moves the other to DE
    response = client.post(
        f"/admin/{path}/import/",
        {"format": csv_format, "import_file": SimpleUploadedFile("parties.csv", rows.encode(), "text/csv")},
    )
    # then the import stops at the moving row, naming its field; nothing is written
    assert response.status_code == 200
    page = response.content.decode()
    assert "a market is fixed once created" in page and "belongs to market GB" in page
    assert 'name="import_file_name"' not in page  # no confirm form: the sheet cannot be applied
    model = type(party)
    assert model.objects.get(pk=party.pk).market_id == "GB"
    assert model.objects.get(pk=renamed.pk).code == renamed.code
