from django.urls import path

from apps.billing import views

urlpatterns = [
    path("", views.costs, name="costs"),
    path("bills/", views.bills, name="bills"),
    path("bills/<str:bill_id>/", views.bill_detail, name="bill"),
    path("bills/<str:bill_id>/action/", views.bill_action, name="bill-action"),
    path("bills/<str:bill_id>/lines/<str:line_id>/", views.line_explain, name="explain"),
    path("price-books/", views.price_books, name="price-books"),
    path("budgets/", views.budgets, name="budgets"),
]
