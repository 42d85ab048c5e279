from .models import Vendor


def vendors_list(*, market=None, status=None):
    qs = Vendor.objects.select_related("market")
    if market:
        qs = qs.filter(market=market)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("code")
