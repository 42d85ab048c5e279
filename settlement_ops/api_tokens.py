"""API tokens per integration: create (the key shown once), revoke, and authenticate by them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from .errors import DomainError
from .models import ApiToken, AuditEvent
from .services import audit_record

KEY_PREFIX = "so_"
# Keys carry 256 bits of randomness, so one SHA-256 (not a slow password hash) is enough.
SECRET_BYTES = 32
MAX_LIFETIME = timedelta(days=366)
# last_used_at is written at most this often, so a busy integration does not write per request.
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic(durable=True)
def api_token_create(*, actor, name: str, user, scope: Group, expires_at) -> tuple[ApiToken, str]:
    """Create a token for `user` limited to `scope`'s permissions; returns (token, key).

    The key is returned only here; the database keeps its hash. Raises DomainError for a blank
    name, an inactive or superuser account, an expiry in the past or more than a year away.
    """
    now = timezone.now()
    if not (name or "").strip():
        raise DomainError("Give the token a name (the integration it is for).", field="name")
    if not user.is_active or user.is_superuser:
        raise DomainError("Tokens act as an active, non-superuser account.", field="user")
    if expires_at <= now:
        raise DomainError("The expiry must be in the future.", field="expires_at")
    if expires_at > now + MAX_LIFETIME:
        raise DomainError("A token lives at most a year; rotate it before then.", field="expires_at")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    token = ApiToken.objects.create(
        name=name.strip(),
        user=user,
        scope=scope,
        prefix=prefix,
        key_hash=_hash(key),
        created_by=actor,
        created_at=now,
        expires_at=expires_at,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="api_token_create",
        obj=token,
        detail={"name": token.name, "user": user.username, "scope": scope.name, "expires_at": expires_at.isoformat()},
    )
    return token, key


@transaction.atomic(durable=True)
def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke a token at once (idempotent: a revoked token stays revoked at its first time)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            kind=AuditEvent.Kind.ACTION, actor=actor, action="api_token_revoke", obj=token, detail={"name": token.name}
        )
    return token


def _scoped_user(token: ApiToken):
    """The token's user whose permissions are cut down to the token's scope."""
    user = token.user
    granted = {
        f"{ct}.{codename}"
        for ct, codename in token.scope.permissions.values_list("content_type__app_label", "codename")
    }
    # ModelBackend answers has_perm from this cache: the user's own permissions within the scope.
    user._perm_cache = user.get_all_permissions() & granted
    user.api_token = token
    return user


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer so_…` (or `Token so_…`). Other `Token` keys are left to DRF's
    TokenAuthentication, which follows this class."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower().decode(errors="replace") not in self.keywords:
            return None
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not key.startswith(KEY_PREFIX):
            if parts[0].lower() == b"bearer":
                raise exceptions.AuthenticationFailed("Invalid token.")
            return None
        prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
        token = ApiToken.objects.select_related("user", "scope").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.key_hash, _hash(key)):
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if not token.is_usable(now):
            raise exceptions.AuthenticationFailed("This token has expired or was revoked.")
        if not token.user.is_active or token.user.is_superuser:
            # A superuser passes every permission check, so no scope could hold it.
            raise exceptions.AuthenticationFailed("The token's account is disabled or a superuser.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return _scoped_user(token), token

    def authenticate_header(self, request):
        return "Bearer"
