"""Seller portal access: a seller user sees only their own seller's data."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from settlement_ops.permissions import log_refusal

from .selectors import seller_for_user


class SellerPortalMixin(LoginRequiredMixin):
    """Sets `self.seller`; anyone without a seller link gets 403. Views must scope every
    queryset by `self.seller` so another seller's object is a 404, never data."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.seller = seller_for_user(request.user)
        if self.seller is None or not request.user.has_perm("settlement_ops.access_seller_portal"):
            log_refusal(request, "portal")
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)
