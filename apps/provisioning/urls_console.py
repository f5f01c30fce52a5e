from django.urls import path

from apps.provisioning import views

urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("changes/", views.changes, name="changes"),
    path("schedules/", views.schedules, name="schedules"),
    path("topology/", views.topology, name="topology"),
    path("scripts/", views.scripts_page, name="scripts"),
    path("scripts/runs/<str:run_id>/", views.script_run_page, name="script-run"),
]
