from django.urls import path

from apps.quotas import views

urlpatterns = [
    path("", views.mine, name="mine"),
    path("ask/", views.ask, name="ask"),
]
