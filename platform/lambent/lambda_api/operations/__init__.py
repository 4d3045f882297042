"""The handlers of the Lambda API's operations, one module per area; importing this package
registers them all with ``lambent.lambda_api.routes``."""

from lambent.lambda_api.operations import absent, aliases, concurrency, event_configs, functions, invoke, permissions

__all__ = ["absent", "aliases", "concurrency", "event_configs", "functions", "invoke", "permissions"]
