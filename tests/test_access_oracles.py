"""Permission before lookup: on every staff page with an object id, a user who may not open the
page gets the same 403 for a missing id as for an existing one (no existence oracle)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from settlement_ops.permissions import PermissionRequiredPageMixin
from settlement_ops.roles import Role
from tests.factories import ActiveContractFactory, UserFactory
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db

MISSING = 987654321


def _staff_pk_routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(("admin/", "api/", "accounts/")):
            continue
        if isinstance(entry, URLResolver):
            yield from _staff_pk_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "view_class", None)
            if cls and issubclass(cls, PermissionRequiredPageMixin) and route.count("<") == route.count("<int:") == 1:
                start, rest = route.split("<int:", 1)
                yield "/" + start + "{pk}" + rest.split(">", 1)[1]


ROUTES = sorted(set(_staff_pk_routes()))


def test_routes_were_found():
    assert len(ROUTES) > 10


@pytest.mark.parametrize("route", ROUTES)
def test_a_missing_id_answers_like_an_existing_one_for_a_user_without_access(client, route):
    # given a signed-in user with no role (no staff pages)
    client.force_login(UserFactory(role=None))
    url = route.format(pk=MISSING)
    # when
    response = client.get(url)
    # then the refusal comes before the lookup
    assert response.status_code in (403, 405), (route, response.status_code)


@pytest.mark.parametrize("role", [Role.SUPPORT_TIER1, Role.SELLER_USER])
def test_the_three_known_oracles_answer_403_for_both(client, user_with_role, role):
    # given an existing contract version, vendor invoice and vendor (mapping page)
    from tests.factories import SellerUserFactory

    version = ActiveContractFactory().versions.get(number=1)
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    invoice = upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")]).invoice
    user = SellerUserFactory().user if role == Role.SELLER_USER else user_with_role(role)
    client.force_login(user)
    for existing, missing in [
        (f"/vendors/versions/{version.pk}/", f"/vendors/versions/{MISSING}/"),
        (f"/payables/invoices/{invoice.pk}/", f"/payables/invoices/{MISSING}/"),
        (f"/payables/vendors/{vendor.pk}/mapping/", f"/payables/vendors/{MISSING}/mapping/"),
    ]:
        # when / then
        assert client.get(existing).status_code == client.get(missing).status_code == 403, existing
