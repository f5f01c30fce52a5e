from django.urls import path

from apps.organizations import views

urlpatterns = [
    path("", views.organization_tree, name="tree"),
    path("users/", views.user_list, name="users"),
    path("groups/", views.group_list, name="groups"),
    path("projects/", views.project_list, name="projects"),
]
