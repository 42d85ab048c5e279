"""The client's address behind a known number of trusted proxies (sign-in lockout, logs)."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str | None:
    """The address the outermost trusted proxy saw, or the peer's when no proxy is trusted.

    Each trusted proxy appends the address it received from to X-Forwarded-For, so with N
    proxies the client is the N-th entry from the right; anything a client puts further left is
    ignored. A header shorter than N (a request that bypassed the proxies) falls back to the peer.
    """
    count = settings.TRUSTED_PROXY_COUNT
    peer = request.META.get("REMOTE_ADDR")
    if count <= 0:
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return peer
    return forwarded[-count]
