"""The console's pages, under ``/console/``."""

from django.urls import path
from django.views.generic import RedirectView

from lambent.console.views import (
                                   account,
                                   asynchronous,
                                   concurrency,
                                   function,
                                   functions,
                                   invocations,
                                   keys,
                                   operator,
                                   testing,
                                   versions,
)

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:functions"), name="home"),
    path("sign-in", account.sign_in, name="sign-in"),
    path("sign-out", account.sign_out, name="sign-out"),
    path("password", account.password_change, name="password"),
    path("tenant", account.tenant_switch, name="tenant"),
    path("functions/", functions.function_list, name="functions"),
    path("functions/new", functions.function_create, name="function-create"),
    path("functions/<str:name>/", RedirectView.as_view(pattern_name="console:function-test"), name="function"),
    path("functions/<str:name>/configuration", function.function_configuration, name="function-configuration"),
    path("functions/<str:name>/environment", function.function_environment, name="function-environment"),
    path("functions/<str:name>/test", testing.function_test, name="function-test"),
    path("functions/<str:name>/versions", versions.function_versions, name="function-versions"),
    path("functions/<str:name>/versions/<str:version>/delete", versions.version_delete, name="version-delete"),
    path("functions/<str:name>/aliases", versions.function_aliases, name="function-aliases"),
    path("functions/<str:name>/aliases/<str:alias>", versions.alias_edit, name="alias"),
    path("functions/<str:name>/aliases/<str:alias>/delete", versions.alias_delete, name="alias-delete"),
    path("functions/<str:name>/invocations", invocations.function_invocations, name="function-invocations"),
    path("functions/<str:name>/asynchronous", asynchronous.function_asynchronous, name="function-asynchronous"),
    path("functions/<str:name>/concurrency", concurrency.function_concurrency, name="function-concurrency"),
    path("functions/<str:name>/delete", functions.function_delete, name="function-delete"),
    path("access-keys", keys.access_keys, name="access-keys"),
    path("access-keys/<str:access_key_id>/deactivate", keys.access_key_deactivate, name="access-key-deactivate"),
    path("access-keys/<str:access_key_id>/delete", keys.access_key_delete, name="access-key-delete"),
    path("operator/tenants", operator.tenant_list, name="operator-tenants"),
    path("operator/tenants/<str:name>", operator.tenant_detail, name="operator-tenant"),
    path("invocations/<str:request_id>", invocations.invocation_detail, name="invocation"),
    path("invocations/<str:request_id>/cancel", invocations.invocation_cancel, name="invocation-cancel"),
    path("invocations/<str:request_id>/redrive", invocations.invocation_redrive, name="invocation-redrive"),
]
