"""Desk pages, included by sellers/urls.py (staff, under /sellers/desk/) and sellers/portal_urls.py
(the seller's side, under /portal/questions/)."""

from django.urls import path

from . import portal, views

staff_urlpatterns = [
    path("desk/", views.QueueView.as_view(), name="desk_queue"),
    path("desk/new/", views.TicketOpenView.as_view(), name="desk_new"),
    path("desk/report/", views.ReportView.as_view(), name="desk_report"),
    path("desk/report.xlsx", views.ReportExportView.as_view(), name="desk_report_export"),
    path("desk/<int:pk>/", views.TicketDetailView.as_view(), name="desk_ticket"),
    path("desk/attachments/<int:pk>/", views.AttachmentView.as_view(), name="desk_attachment"),
    path("desk/credits/<int:pk>/decide/", views.CreditDecideView.as_view(), name="desk_credit_decide"),
    *[
        path(f"desk/<int:pk>/{action}/", views.TicketActionView.as_view(action=action), name=f"desk_{action}")
        for action in ("reply", "note", "assign", "escalate", "resolve", "merge", "credit")
    ],
]

portal_urlpatterns = [
    path("questions/", portal.PortalTicketListView.as_view(), name="desk_tickets"),
    path("questions/new/", portal.PortalTicketNewView.as_view(), name="desk_new"),
    path("questions/explain/", portal.PortalExplainView.as_view(), name="desk_explain"),
    path("questions/<int:pk>/", portal.PortalTicketDetailView.as_view(), name="desk_ticket"),
    path("questions/files/<int:pk>/", portal.PortalAttachmentView.as_view(), name="desk_attachment"),
    *[
        path(
            f"questions/<int:pk>/{action}/", portal.PortalTicketActionView.as_view(action=action), name=f"desk_{action}"
        )
        for action in ("reply", "confirm", "reopen", "rate")
    ],
]
