from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "lambent.functions"
    label = "functions"

    def ready(self) -> None:
        from lambent.functions.policies import resource_policy
        from lambent.iam.policies import resources

        resources.register(resource_policy)  # functions' resource policies, for the policy engine
