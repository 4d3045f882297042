from django.urls import path

from lambent.functions.api import views

urlpatterns = [
    path("functions", views.FunctionsView.as_view(), name="functions"),
    path("functions/<str:name>", views.FunctionView.as_view(), name="function"),
    path("functions/<str:name>/code", views.FunctionCodeView.as_view(), name="function-code"),
    path("functions/<str:name>/versions", views.VersionsView.as_view(), name="versions"),
    path("functions/<str:name>/versions/<str:version>", views.VersionView.as_view(), name="version"),
    path("functions/<str:name>/aliases", views.AliasesView.as_view(), name="aliases"),
    path("functions/<str:name>/aliases/<str:alias>", views.AliasView.as_view(), name="alias"),
]
