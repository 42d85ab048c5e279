import functools

from django.urls import get_script_prefix, reverse

from .navigation import navigation_sections
from .roles import is_seller_user, is_staff_user


def navigation(request):
    """Navigation areas the signed-in user may open (links they cannot use are not shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_staff_user(user) or is_seller_user(user):
        return {"nav_sections": []}
    # Users of one role see the same links: built once per permission set, not per request
    # (~60 permission checks a page otherwise).
    granted = None if user.is_superuser else frozenset(user.get_all_permissions())
    return {"nav_sections": _sections(granted, get_script_prefix())}


@functools.lru_cache(maxsize=256)
def _sections(granted: frozenset | None, script_prefix: str) -> list[dict]:
    """The navigation for a permission set (None: a superuser, who may open every link)."""
    sections = []
    for title, links in navigation_sections():
        visible = [
            (label, _link(name, script_prefix)) for label, name, perm in links if granted is None or perm in granted
        ]
        if visible:
            sections.append({"title": title, "links": visible})
    return sections


@functools.lru_cache(maxsize=512)
def _link(name: str, script_prefix: str) -> str:
    # The navigation's URLs never change while the process runs; reversing ~60 of them per page
    # cost a few milliseconds of every request.
    return reverse(name)
