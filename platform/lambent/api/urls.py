"""``/api/v1``: every app's API routes, the OpenAPI schema and its documentation page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

urlpatterns = [
    path("", include("lambent.functions.api.urls")),
    path("", include("lambent.queues.api.urls")),
    path("", include("lambent.quotas.api.urls")),
    path("", include("lambent.invocations.api.urls")),
    path("", include("lambent.iam.api.urls")),
    path("", include("lambent.events.api.urls")),
    # The schema is YAML, or JSON with ?format=json: DRF's negotiation, not the API's JSON only.
    path("schema", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[],
                                              content_negotiation_class=DefaultContentNegotiation), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[],
                                                permission_classes=[]), name="docs"),
]
