from django.contrib import admin
from django.urls import include, path

from lambent import health, metrics

urlpatterns = [
    path("api/v1/", include("lambent.api.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("lambent.lambda_api.urls")),
]
