from django.urls import path

from apps.clouds import views

urlpatterns = [
    path("", views.platform_list, name="platforms"),
    path("catalog/", views.catalog, name="catalog"),
    path("<str:platform_id>/", views.platform_detail, name="platform"),
]
