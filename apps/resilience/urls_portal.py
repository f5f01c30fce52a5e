from django.urls import path

from apps.resilience import views

urlpatterns = [
    path("", views.groups, name="groups"),
    path("groups/<str:pk>/", views.group_detail, name="group"),
    path("runs/<str:pk>/", views.run_detail, name="run"),
]
