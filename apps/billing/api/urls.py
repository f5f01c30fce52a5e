from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.billing.api import views

router = SimpleRouter()
router.register("bills", views.BillViewSet, basename="billing-bill")
router.register("price-books", views.PriceBookViewSet, basename="billing-price-book")
router.register("price-rules", views.PriceRuleViewSet, basename="billing-price-rule")
router.register("discounts", views.DiscountViewSet, basename="billing-discount")
router.register("budgets", views.BudgetViewSet, basename="billing-budget")
router.register("budget-crossings", views.BudgetCrossingViewSet, basename="billing-budget-crossing")
router.register("usage-intervals", views.UsageIntervalViewSet, basename="billing-usage-interval")

urlpatterns = [
    path("costs/", views.CostView.as_view(), name="billing-costs"),
    path("costs/summary/", views.CostSummaryView.as_view(), name="billing-cost-summary"),
    path("costs/export/", views.CostExportView.as_view(), name="billing-cost-export"),
    path("profiles/", views.ProfileView.as_view(), name="billing-profile"),
    *router.urls,
]
