"""How the OpenAPI schema describes ``AccessKeyAuthentication``."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AccessKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "lambent.iam.authentication.AccessKeyAuthentication"
    name = "accessKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<access key id>:<secret access key>",
        }
