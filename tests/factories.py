"""factory_boy factories shared by every test folder."""
import factory
from django.contrib.auth.models import Group, User

from sellers.models import Seller, SellerUser
from settlement_ops.models import Market
from vendors.models import Vendor

PASSWORD = "test-pass-123"


def market(code: str = "GB") -> Market:
    """Markets are reference data created by migration."""
    return Market.objects.get(pk=code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    market = factory.LazyFunction(lambda: market("GB"))
    code = factory.Sequence(lambda n: f"S-T-{n:04d}")
    name = factory.Sequence(lambda n: f"Seller {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Ltd")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@seller.example")


class SellerUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SellerUser

    user = factory.SubFactory(UserFactory, role="seller_user")
    seller = factory.SubFactory(SellerFactory)


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    market = factory.LazyFunction(lambda: market("GB"))
    code = factory.Sequence(lambda n: f"V-T-{n:04d}")
    legal_name = factory.Sequence(lambda n: f"Carrier {n} Ltd")
    vendor_type = Vendor.Type.LAST_MILE
    payment_terms_days = 30


# --- vendors: contracts and rate cards -----------------------------------------------------------

import datetime as _dt  # noqa: E402
from decimal import Decimal as _D  # noqa: E402

from django.utils import timezone as _tz  # noqa: E402

from vendors.models import (  # noqa: E402
    Contract, ContractVersion, RateLine, Surcharge, VendorBankAccount, VendorBankChangeRequest,
)


class ContractFactory(factory.django.DjangoModelFactory):
    """A draft contract (GB, GBP, 'standard', from 2026-01-01, divisor 5000). Use
    ActiveContractFactory for one that is approved with an active version 1."""

    class Meta:
        model = Contract
        skip_postgeneration_save = True

    vendor = factory.SubFactory(VendorFactory)
    market = factory.LazyAttribute(lambda o: o.vendor.market)
    reference = factory.Sequence(lambda n: f"C-T-{n:05d}")
    service_level = "standard"
    currency = factory.LazyAttribute(lambda o: o.market.currency)
    valid_from = _dt.date(2026, 1, 1)
    valid_to = None
    payment_terms_days = 30
    volumetric_divisor = 5000
    author = factory.SubFactory(UserFactory, role="finance_specialist")
    status = Contract.Status.DRAFT

    @factory.post_generation
    def with_version(self, create, extracted, **kwargs):
        if create and extracted is not False:
            active = self.status in Contract.EFFECTIVE_STATUSES
            ContractVersion.objects.create(
                contract=self, number=1, effective_from=self.valid_from, created_by=self.author,
                status=ContractVersion.Status.ACTIVE if active else ContractVersion.Status.DRAFT,
                approved_by=self.approved_by if active else None,
                approved_at=_tz.now() if active else None, activated_at=_tz.now() if active else None,
            )


class ActiveContractFactory(ContractFactory):
    status = Contract.Status.ACTIVE
    approved_by = factory.SubFactory(UserFactory, role="finance_approver")
    approved_at = factory.LazyFunction(_tz.now)


class ContractVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractVersion

    contract = factory.SubFactory(ActiveContractFactory)
    number = factory.LazyAttribute(lambda o: o.contract.versions.count() + 1)
    effective_from = factory.LazyAttribute(lambda o: o.contract.valid_from)
    created_by = factory.LazyAttribute(lambda o: o.contract.author)


class RateLineFactory(factory.django.DjangoModelFactory):
    """(0, 30] kg GB-LON -> GB-LON: 4.00 + 0.50 per additional kg, minimum 0."""

    class Meta:
        model = RateLine

    version = factory.LazyFunction(lambda: ActiveContractFactory().versions.get(number=1))
    service_level = factory.LazyAttribute(lambda o: o.version.contract.service_level)
    origin_zone = "GB-LON"
    destination_zone = "GB-LON"
    weight_from_kg = _D("0")
    weight_to_kg = _D("30")
    base_price = _D("4.00")
    price_per_additional_kg = _D("0.50")
    additional_step_kg = _D("1")
    minimum_charge = _D("0")


class SurchargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Surcharge

    version = factory.LazyFunction(lambda: ActiveContractFactory().versions.get(number=1))
    kind = Surcharge.Kind.FUEL
    percent = _D("10")
    flat_amount = None
    minimum_amount = _D("0")


class VendorBankChangeRequestFactory(factory.django.DjangoModelFactory):
    """A pending change to a valid UK IBAN, requested by a finance specialist."""

    class Meta:
        model = VendorBankChangeRequest

    vendor = factory.SubFactory(VendorFactory)
    account_holder = factory.LazyAttribute(lambda o: o.vendor.legal_name)
    iban = "GB33BUKB20201555555555"
    bic = "BUKBGB22"
    currency = factory.LazyAttribute(lambda o: o.vendor.market.currency)
    requested_by = factory.SubFactory(UserFactory, role="finance_specialist")


class VendorBankAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorBankAccount

    vendor = factory.SubFactory(VendorFactory)
    account_holder = factory.LazyAttribute(lambda o: o.vendor.legal_name)
    iban = "GB29NWBK60161331926819"
    bic = "NWBKGB2L"
    currency = factory.LazyAttribute(lambda o: o.vendor.market.currency)
