"""The seller portal's own pages. Every portal page is scoped to the signed-in user's seller
(sellers.permissions.SellerPortalMixin); the other apps' portal pages are in their own
`portal_urls.py`, collected by settlement_ops.navigation.portal_urlpatterns."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.PortalHomeView.as_view(), name="home"),
]
