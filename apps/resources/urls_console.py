from django.urls import path

from apps.resources import views

urlpatterns = [
    path("", views.resource_list, name="resources"),
    path("usage/", views.usage, name="usage"),
    path("<str:resource_id>/", views.resource_detail, name="resource"),
]
