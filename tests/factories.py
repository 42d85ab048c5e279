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
