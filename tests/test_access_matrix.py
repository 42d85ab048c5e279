"""Walks every page URL pattern and checks each role is let in or kept out, and that every link a
role is shown on a page it opens leads to a page that role may open."""

import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse

from settlement_ops.roles import Role
from tests.access_matrix import PAGES
from tests.factories import SellerUserFactory, UserFactory

SKIPPED_PREFIXES = ("admin/", "api/", "accounts/", "media/", "static/", "__")


def _page_names(patterns=None, prefix="", namespace=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _page_names(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace + entry.name


ALL_PAGES = sorted(set(_page_names()))


def test_every_page_is_in_the_access_matrix():
    missing = [name for name in ALL_PAGES if name not in PAGES]
    stale = [name for name in PAGES if name not in ALL_PAGES]
    assert not missing, f"Pages without an access-matrix entry in tests/access_matrix.py: {missing}"
    assert not stale, f"Access-matrix entries for pages that no longer exist: {stale}"


def _user_for(role):
    if role == Role.SELLER_USER:
        return SellerUserFactory().user
    return UserFactory(role=role)


# Sessions live in a signed cookie here: each role signs in once per module, and switching roles
# is a cookie swap, not 228 x 10 sign-ins (the session store is not what this matrix tests).
COOKIE_SESSIONS = {"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"}


@pytest.fixture(scope="module")
def role_sessions(django_db_setup, django_db_blocker):
    """One user per role, signed in once: the pages only read them, so they are created once
    (committed) and deleted when the module is done. Yields each role's session cookie."""
    with django_db_blocker.unblock(), override_settings(**COOKIE_SESSIONS):
        users = {role: _user_for(role) for role in Role.ALL}
        cookies = {}
        # The sign-in's own writes (last login, its audit event) are rolled back; the signed
        # cookie stays valid for the committed user.
        with transaction.atomic():
            for role, user in users.items():
                signing_in = Client()
                signing_in.force_login(user)
                cookies[role] = signing_in.cookies[settings.SESSION_COOKIE_NAME].value
            transaction.set_rollback(True)
        yield cookies
        for role, user in users.items():
            seller = user.seller_link.seller if role == Role.SELLER_USER else None
            user.delete()
            if seller is not None:
                history = getattr(seller, "history", None)
                seller.delete()
                if history is not None:
                    history.model.objects.filter(id=seller.id).delete()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ALL_PAGES)
@override_settings(**COOKIE_SESSIONS)
def test_each_role_is_let_in_or_kept_out(client, role_sessions, name):
    page = PAGES[name]
    url = reverse(name, kwargs=page.kwargs() if page.kwargs else None) + page.query
    for role in Role.ALL:
        client.cookies[settings.SESSION_COOKIE_NAME] = role_sessions[role]
        response = client.post(url, {}) if page.post else client.get(url)
        if role in page.expect:
            assert response.status_code == page.expect[role], f"{role} on {name}: {response.status_code}"
        elif role in page.allowed:
            if page.post:
                assert response.status_code not in (403, 404, 405), f"{role} refused on {name}"
            else:
                assert response.status_code == 200, f"{role} on {name}: {response.status_code}"
                if "text/html" in response.get("Content-Type", ""):
                    broken = unfollowable_links(client, response, role, url)
                    assert not broken, f"{role} on {name} is shown links it cannot follow: {broken}"
        else:
            assert response.status_code in (403, 404), f"{role} let into {name}: {response.status_code}"
    del client.cookies[settings.SESSION_COOKIE_NAME]
    anonymous = client.post(url, {}) if page.post else client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


# --- Links a role is shown must open for that role ------------------------------------------------

HREF = re.compile(r"<a\s[^>]*?href=\"([^\"#]*)[\"#]", re.IGNORECASE)
# Not pages: sign-out is a POST form, admin and the API have their own doors, files are static.
NOT_CHECKED = ("/accounts/", "/admin/", "/api/", "/static/", "/media/", "/__")


def _links(html: str, base: str) -> list[str]:
    """Internal GET links of a page (paths with their query), in page order, once each."""
    found = []
    for href in HREF.findall(html):
        href = unescape(href).strip()
        if not href or href.startswith(("mailto:", "javascript:")):
            continue
        parts = urlsplit(urljoin(base, href))
        if parts.netloc and parts.netloc != "testserver":
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(NOT_CHECKED) and path not in found:
            found.append(path)
    return found


def unfollowable_links(client, response, role, page_url: str) -> list[str]:
    """The links on a page a role opened that the role cannot follow.

    A link's view is judged by the matrix: the role must be among its allowed roles (and the
    matrix test proves each allowed role gets 200 there and every other role 403/404), so no page
    is fetched twice. A link whose query asks for a file (`?format=xlsx`) is checked by its view
    at request time, so it is fetched.
    """
    problems = []
    for link in _links(response.content.decode(), page_url):
        parts = urlsplit(link)
        try:
            name = resolve(parts.path).view_name
        except Resolver404:
            problems.append(f"{link} (no such page)")
            continue
        page = PAGES.get(name)
        if page is None:
            continue  # a page missing from the matrix fails test_every_page_is_in_the_access_matrix
        if "format" in parse_qs(parts.query):
            savepoint = transaction.savepoint()
            status = client.get(link).status_code
            transaction.savepoint_rollback(savepoint)
            if status != 200:
                problems.append(f"{link} answers {status}")
        elif page.post:
            problems.append(f"{link} is a POST action shown as a link")
        elif page.expect.get(role, 200 if role in page.allowed else 403) != 200:
            problems.append(f"{link} ({name}) is not open to {role}")
    return problems
