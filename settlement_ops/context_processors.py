from django.urls import reverse

from .navigation import navigation_sections
from .roles import is_seller_user, is_staff_user


def navigation(request):
    """Navigation areas the signed-in user may open (links they cannot use are not shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_staff_user(user) or is_seller_user(user):
        return {"nav_sections": []}
    sections = []
    for title, links in navigation_sections():
        visible = [(label, reverse(name)) for label, name, perm in links if user.has_perm(perm)]
        if visible:
            sections.append({"title": title, "links": visible})
    return {"nav_sections": sections}
