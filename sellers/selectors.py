from .models import Seller, SellerUser

_UNKNOWN = object()


def seller_for_user(user) -> Seller | None:
    """The seller a portal user belongs to, or None for staff and unlinked users. Looked up once
    per request for the signed-in user (the portal's access check and each scoped selector ask)."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_request_seller", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached
    link = SellerUser.objects.select_related("seller__market").filter(user=user).first()
    seller = link.seller if link else None
    if getattr(user, "loaded_for_request", False):  # a user object that lives one request only
        user._request_seller = seller
    return seller


def sellers_list(*, market=None, q=None):
    qs = Seller.objects.select_related("market")
    if market:
        qs = qs.filter(market=market)
    if q:
        qs = qs.filter(name__icontains=q) | qs.filter(code__iexact=q)
    return qs.order_by("code")


def seller_account_summary(seller: Seller, *, today) -> dict:
    """What a seller's page and the seller's own portal home show: balance due and overdue, open
    invoices, the last statement, the fee schedules in force, recent payments and payout
    deductions. The apps that own those records fill it in through their `summaries.py`
    (`seller_summary(seller, today=)`), so this lower app imports none of them. The caller
    decides which seller: staff pages by id, the portal only the signed-in user's own."""
    from settlement_ops.navigation import area_modules

    summary: dict = {"seller": seller, "today": today}
    for module in area_modules("summaries"):
        contribute = getattr(module, "seller_summary", None)
        if contribute is not None:
            summary.update(contribute(seller, today=today))
    return summary
