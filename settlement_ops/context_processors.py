import functools

from django.urls import get_script_prefix, reverse

from .navigation import navigation_sections
from .roles import is_seller_user, is_staff_user


def navigation(request):
    """Navigation areas the signed-in user may open (links they cannot use are not shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_staff_user(user) or is_seller_user(user):
        return {"nav_sections": []}
    sections = []
    for title, links in navigation_sections():
        visible = [(label, _link(name, get_script_prefix())) for label, name, perm in links if user.has_perm(perm)]
        if visible:
            sections.append({"title": title, "links": visible})
    return {"nav_sections": sections}


@functools.lru_cache(maxsize=512)
def _link(name: str, script_prefix: str) -> str:
    # The navigation's URLs never change while the process runs; reversing ~60 of them per page
    # cost a few milliseconds of every request.
    return reverse(name)
