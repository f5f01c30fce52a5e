from django.urls import path

from apps.core import views

urlpatterns = [
    path("", views.portal_home, name="home"),
]
