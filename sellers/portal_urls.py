"""The seller portal: every page here is scoped to the signed-in user's seller."""
from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.PortalHomeView.as_view(), name="home"),
]
