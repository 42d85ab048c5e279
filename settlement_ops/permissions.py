"""Access control for pages and API: permission strings checked per view, refusals logged."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views import View
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .errors import DomainError
from .models import AuditEvent
from .services import audit_record


def log_refusal(request, reason: str) -> None:
    user = request.user if request.user.is_authenticated else None
    audit_record(
        kind=AuditEvent.Kind.ACCESS_REFUSED,
        actor=user,
        action=reason,
        detail={"path": request.path, "method": request.method},
        request=request,
    )


def _has_all(user, perms) -> bool:
    if isinstance(perms, str):
        perms = (perms,)
    return user.has_perms(perms)


class PermissionRequiredPageMixin(LoginRequiredMixin):
    """Staff page access: the staff-pages permission plus `permission_required` (one permission
    string or a tuple, all needed). Seller and API-only users never pass; refusals are logged.
    """

    permission_required: str | tuple[str, ...] = ()

    def check_access(self, request):
        """None when the user may open the page; the sign-in redirect for an anonymous user;
        raises PermissionDenied (logged) otherwise. A view that looks an object up in `dispatch`
        calls this first, so another object and a missing one answer alike (no existence oracle).
        """
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        perms = (
            (self.permission_required,)
            if isinstance(self.permission_required, str)
            else tuple(self.permission_required)
        )
        if not perms or not _has_all(request.user, ("settlement_ops.access_staff_pages", *perms)):
            log_refusal(request, "page")
            raise PermissionDenied
        return None

    def dispatch(self, request, *args, **kwargs):
        refused = self.check_access(request)
        if refused is not None:
            return refused
        return super().dispatch(request, *args, **kwargs)


class HasRolePermission(BasePermission):
    """API access: a view declares `required_permissions = {action_or_key: perm}`.

    Keys are checked in order: the viewset action ("list", "create", "approve"), then "read" for
    safe methods or "write" for the others. An undeclared action is refused.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        mapping = getattr(view, "required_permissions", None) or {}
        action = getattr(view, "action", None)
        perm = mapping.get(action) if action else None
        if perm is None:
            perm = mapping.get("read" if request.method in SAFE_METHODS else "write")
        if perm is None or not _has_all(user, perm):
            log_refusal(request._request if hasattr(request, "_request") else request, "api")
            return False
        return True


class ActionView(PermissionRequiredPageMixin, View):
    """A page POST that calls one service: its success message, or its DomainError (with the first
    row errors) as messages on the page it came from. Subclasses give `act` and `back`."""

    http_method_names = ["post"]

    def act(self, request, **kwargs):  # returns (message, redirect url)
        raise NotImplementedError

    def back(self, **kwargs) -> str:
        raise NotImplementedError

    def post(self, request, **kwargs):
        try:
            message, url = self.act(request, **kwargs)
        except DomainError as exc:
            messages.error(request, exc.message)
            for error in exc.errors[:50]:
                messages.error(request, f"Row {error.get('row')}: {error.get('field')} {error.get('message')}")
            return redirect(self.back(**kwargs))
        messages.success(request, message)
        return redirect(url)
