from django.conf import settings


def product(request):
    return {"product_name": "Unimanager", "deployment_mode": settings.MODE}
