from django.contrib import admin
from django.urls import include, path

from lambent import health, metrics
from lambent.api import root

urlpatterns = [
    path("", root.root, name="root"),
    path("api/v1/", include("lambent.api.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("lambent.console.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("lambent.lambda_api.urls")),
    path("", include("lambent.events.scheduler_api.urls")),
]

# Errors outside the views answer in the API's JSON shape (the admin keeps its pages).
handler400 = "lambent.api.exceptions.bad_request"
handler403 = "lambent.api.exceptions.permission_denied"
handler404 = "lambent.api.exceptions.page_not_found"
handler500 = "lambent.api.exceptions.server_error"
