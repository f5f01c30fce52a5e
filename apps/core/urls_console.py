from django.urls import path

from apps.core import views

urlpatterns = [
    path("", views.console_home, name="home"),
]
urlpatterns += [path("diagnostics/", views.console_diagnostics, name="diagnostics")]
