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
    Contract,
    ContractVersion,
    RateLine,
    Surcharge,
    VendorBankAccount,
    VendorBankChangeRequest,
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
                contract=self,
                number=1,
                effective_from=self.valid_from,
                created_by=self.author,
                status=ContractVersion.Status.ACTIVE if active else ContractVersion.Status.DRAFT,
                approved_by=self.approved_by if active else None,
                approved_at=_tz.now() if active else None,
                activated_at=_tz.now() if active else None,
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


# --- billing rows for payables tests (shipments rated directly, without a billing run) ------------

from billing.models import BillingRun, BillingRunChunk, ChargeLine, ChargeLineTotal, SellerFeeSchedule, Shipment  # noqa: E402


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A delivered GB shipment of 2.000 kg (no dimensions), shipped 2026-03-02."""

    class Meta:
        model = Shipment

    vendor = factory.SubFactory(VendorFactory)
    market = factory.LazyAttribute(lambda o: o.vendor.market)
    seller = factory.SubFactory(SellerFactory, market=factory.SelfAttribute("..market"))
    tracking_number = factory.Sequence(lambda n: f"TRK{n:08d}")
    service_level = "standard"
    origin_zone = "GB-LON"
    destination_zone = "GB-LON"
    actual_weight_kg = _D("2.000")
    ship_date = _dt.date(2026, 3, 2)
    delivered_date = _dt.date(2026, 3, 4)
    status = Shipment.Status.DELIVERED


def _seller_schedule(market):
    schedule = SellerFeeSchedule.objects.filter(market=market, service_level="standard").first()
    return schedule or SellerFeeSchedule.objects.create(
        market=market,
        service_level="standard",
        name="Standard",
        currency=market.currency,
        valid_from=_dt.date(2026, 1, 1),
        vat_rate=market.vat_standard_rate,
        status=SellerFeeSchedule.Status.APPROVED,
    )


def _billing_run(market):
    run = BillingRun.objects.filter(market=market, status=BillingRun.Status.COMPLETED).first()
    if run is None:
        run = BillingRun.objects.create(
            market=market,
            business_date=_dt.date(2026, 3, 31),
            status=BillingRun.Status.COMPLETED,
            currency=market.currency,
        )
        BillingRunChunk.objects.create(
            run=run, seq=1, first_shipment_id=1, last_shipment_id=10**12, status=BillingRunChunk.Status.DONE
        )
    return run


class ChargeLineFactory(factory.django.DjangoModelFactory):
    """Generation 1 rating of a shipment: vendor_net = base + fuel, VAT at the market's rate.
    Pass `rate_line=` (its version is used) and `vendor_base`/`vendor_fuel`."""

    class Meta:
        model = ChargeLine

    shipment = factory.SubFactory(ShipmentFactory)
    run = factory.LazyAttribute(lambda o: _billing_run(o.shipment.market))
    chunk = factory.LazyAttribute(lambda o: o.run.chunks.first())
    generation = 1
    id = factory.LazyAttribute(lambda o: o.shipment.pk * ChargeLine.GENERATIONS + o.generation)
    kind = factory.LazyAttribute(lambda o: ChargeLine.Kind.ORIGINAL if o.generation == 1 else ChargeLine.Kind.DELTA)
    shipment_revision = 1
    market = factory.LazyAttribute(lambda o: o.shipment.market)
    vendor = factory.LazyAttribute(lambda o: o.shipment.vendor)
    seller = factory.LazyAttribute(lambda o: o.shipment.seller)
    service_level = factory.LazyAttribute(lambda o: o.shipment.service_level)
    ship_date = factory.LazyAttribute(lambda o: o.shipment.ship_date)
    currency = factory.LazyAttribute(lambda o: o.market.currency)
    rate_line = factory.SubFactory(RateLineFactory)
    contract_version = factory.LazyAttribute(lambda o: o.rate_line.version)
    seller_fee_schedule = factory.LazyAttribute(lambda o: _seller_schedule(o.market))
    chargeable_weight_kg = factory.LazyAttribute(lambda o: o.shipment.actual_weight_kg)
    seller_chargeable_weight_kg = factory.LazyAttribute(lambda o: o.shipment.actual_weight_kg)
    vendor_base = _D("4.50")
    vendor_fuel = _D("0")
    vendor_net = factory.LazyAttribute(
        lambda o: (
            o.vendor_base
            + o.vendor_fuel
            + o.vendor_remote
            + o.vendor_oversize
            + o.vendor_cod
            + o.vendor_peak
            + o.vendor_returns
        )
    )
    vendor_remote = _D("0")
    vendor_oversize = _D("0")
    vendor_cod = _D("0")
    vendor_peak = _D("0")
    vendor_returns = _D("0")
    vendor_vat = factory.LazyAttribute(lambda o: (o.vendor_net * o.market.vat_standard_rate / 100).quantize(_D("0.01")))
    vendor_gross = factory.LazyAttribute(lambda o: o.vendor_net + o.vendor_vat)
    created_at = factory.LazyFunction(_tz.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As the rating statement does: every line is counted in its chunk's totals.
        line = super()._create(model_class, *args, **kwargs)
        ChargeLineTotal.objects.create(
            run=line.run,
            chunk=line.chunk,
            vendor=line.vendor,
            seller=line.seller,
            service_level=line.service_level,
            line_count=1,
            vendor_net=line.vendor_net,
            vendor_vat=line.vendor_vat,
            seller_net=line.seller_net,
            seller_vat=line.seller_vat,
        )
        return line
