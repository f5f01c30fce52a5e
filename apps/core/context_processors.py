from django.conf import settings

from apps.core.navigation import menu_for


def product(request):
    context = {"product_name": "Unimanager", "deployment_mode": settings.MODE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        match = getattr(request, "resolver_match", None)
        current = f"{match.namespace}:{match.url_name}" if match and match.namespace else (
            match.url_name if match else "")
        context["console_menu"] = menu_for(user, "console", current)
        context["portal_menu"] = menu_for(user, "portal", current)
    return context


def csp_nonce(request):
    """The nonce an inline ``<script nonce="{{ csp_nonce }}">`` needs under the page's security policy."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
