"""The seller portal's own pages. Every portal page is scoped to the signed-in user's seller
(sellers.permissions.SellerPortalMixin); the other apps' portal pages are in their own
`portal_urls.py`, collected by settlement_ops.navigation.portal_urlpatterns."""

from django.urls import path

from . import views
from .desk.urls import portal_urlpatterns as desk_urlpatterns
from .health import views as health_views

urlpatterns = [
    path("", views.PortalHomeView.as_view(), name="home"),
    *desk_urlpatterns,
    path("performance/", health_views.PortalPerformanceView.as_view(), name="health_performance"),
    path(
        "performance/<str:kind>/<int:pk>/acknowledge/",
        health_views.PortalAcknowledgeView.as_view(),
        name="health_acknowledge",
    ),
]
