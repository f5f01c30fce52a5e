from django.urls import path

from apps.quotas import views

urlpatterns = [
    path("", views.overview, name="overview"),
]
