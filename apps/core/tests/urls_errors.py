"""The project's URLs plus two views that fail, to see what a client gets from an unexpected error."""

from django.http import HttpRequest
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from unimanager.urls import handler400, handler403, handler404, handler500
from unimanager.urls import urlpatterns as project_urls

SECRET_IN_EXCEPTION = "secret-detail-that-must-stay-on-the-server"


@api_view(["GET"])
@permission_classes([AllowAny])
def api_boom(request):
    raise RuntimeError(SECRET_IN_EXCEPTION)


def page_boom(request: HttpRequest):
    raise RuntimeError(SECRET_IN_EXCEPTION)


urlpatterns = [
    path("api/v1/test/boom/", api_boom),
    path("test/boom/", page_boom),
    *project_urls,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
