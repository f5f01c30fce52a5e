from django.urls import path

from apps.alerts import views

urlpatterns = [
    path("", views.alerts, name="alerts"),
    path("rules/", views.rules, name="rules"),
    path("silences/", views.silences, name="silences"),
    path("notifications/", views.notifications, name="notifications"),
    path("inbox/", views.inbox, name="inbox"),
    path("inspections/", views.inspections, name="inspections"),
    path("<str:alert_id>/", views.alert_detail, name="alert"),
]
