from django.urls import path

from lambent.quotas.api import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="account"),
    path("functions/<str:name>/concurrency", views.FunctionConcurrencyView.as_view(), name="function-concurrency"),
    path("functions/<str:name>/provisioned-concurrency", views.ProvisionedConcurrencyView.as_view(),
         name="provisioned-concurrency"),
    path("functions/<str:name>/provisioned-concurrency-configs", views.ProvisionedConcurrencyConfigsView.as_view(),
         name="provisioned-concurrency-configs"),
]
