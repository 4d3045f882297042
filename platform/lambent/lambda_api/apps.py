from django.apps import AppConfig


class LambdaApiConfig(AppConfig):
    name = "lambent.lambda_api"
    label = "lambda_api"
    verbose_name = "Lambda-compatible API"
