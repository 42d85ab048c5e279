from .models import Seller, SellerUser


def seller_for_user(user) -> Seller | None:
    """The seller a portal user belongs to, or None for staff and unlinked users."""
    if not user.is_authenticated:
        return None
    link = SellerUser.objects.select_related("seller__market").filter(user=user).first()
    return link.seller if link else None


def sellers_list(*, market=None, q=None):
    qs = Seller.objects.select_related("market")
    if market:
        qs = qs.filter(market=market)
    if q:
        qs = qs.filter(name__icontains=q) | qs.filter(code__iexact=q)
    return qs.order_by("code")
