from django.urls import path

from apps.provisioning import views

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("new/<str:platform_id>/", views.request_form, name="request-form"),
    path("new/<str:platform_id>/projects/", views.request_form_projects, name="request-form-projects"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("resources/", views.my_resources, name="my-resources"),
    path("resources/<str:resource_id>/", views.resource_page, name="resource"),
    path("scripts/", views.scripts_page, name="scripts"),
    path("scripts/runs/<str:run_id>/", views.script_run_page, name="script-run"),
]
