from django.urls import path

from apps.security import views

urlpatterns = [
    path("", views.screens_home, name="home"),
    path("signin/", views.screen_signin, name="signin"),
    path("signout/", views.screen_signout, name="signout"),
    path("d/<slug:dashboard_id>/", views.screen_dashboard, name="dashboard"),
]
