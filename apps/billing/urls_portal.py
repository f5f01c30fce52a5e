from django.urls import path

from apps.billing import views

urlpatterns = [
    path("", views.portal_costs, name="costs"),
]
