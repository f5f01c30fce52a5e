from rest_framework.routers import SimpleRouter

from apps.clouds.api.views import CatalogViewSet, CloudTypeViewSet, PlatformViewSet

router = SimpleRouter()
router.register("platforms", PlatformViewSet, basename="cloudplatform")
router.register("catalog", CatalogViewSet, basename="cloudcatalog")
router.register("types", CloudTypeViewSet, basename="cloudtype")

urlpatterns = router.urls
