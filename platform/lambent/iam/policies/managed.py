"""The managed policies the platform ships, attachable by name in every tenant.

Their actions come from the Lambda API's operations (botocore's model; a test holds
``OPERATIONS`` to it). An operation's IAM action is its own name, except the two invoke
operations, which AWS authorizes as ``lambda:InvokeFunction``. The *reads* are exactly the
``Get*`` and ``List*`` operations: they change nothing (``GetFunction`` includes a link to
the code, as AWS's ``AWSLambda_ReadOnlyAccess`` also grants). Every other operation writes.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from lambent.iam.policies.documents import VERSION, Policy, compile_document

OPERATIONS = (
    "AddLayerVersionPermission", "AddPermission", "CheckpointDurableExecution", "CreateAlias",
    "CreateCapacityProvider", "CreateCodeSigningConfig", "CreateEventSourceMapping", "CreateFunction",
    "CreateFunctionUrlConfig", "DeleteAlias", "DeleteCapacityProvider", "DeleteCodeSigningConfig",
    "DeleteDurableExecution", "DeleteEventSourceMapping", "DeleteFunction", "DeleteFunctionCodeSigningConfig",
    "DeleteFunctionConcurrency", "DeleteFunctionEventInvokeConfig", "DeleteFunctionUrlConfig", "DeleteLayerVersion",
    "DeleteProvisionedConcurrencyConfig", "DeleteResourcePolicy", "GetAccountSettings", "GetAlias",
    "GetCapacityProvider", "GetCodeSigningConfig", "GetDurableExecution", "GetDurableExecutionHistory",
    "GetDurableExecutionState", "GetEventSourceMapping", "GetFunction", "GetFunctionCodeSigningConfig",
    "GetFunctionConcurrency", "GetFunctionConfiguration", "GetFunctionEventInvokeConfig",
    "GetFunctionRecursionConfig", "GetFunctionScalingConfig", "GetFunctionUrlConfig", "GetLayerVersion",
    "GetLayerVersionByArn", "GetLayerVersionPolicy", "GetPolicy", "GetProvisionedConcurrencyConfig",
    "GetResourcePolicy", "GetRuntimeManagementConfig", "Invoke", "InvokeAsync", "InvokeWithResponseStream",
    "ListAliases", "ListCapacityProviders", "ListCodeSigningConfigs", "ListDurableExecutionsByFunction",
    "ListEventSourceMappings", "ListFunctionEventInvokeConfigs", "ListFunctionUrlConfigs",
    "ListFunctionVersionsByCapacityProvider", "ListFunctions", "ListFunctionsByCodeSigningConfig",
    "ListLayerVersions", "ListLayers", "ListProvisionedConcurrencyConfigs", "ListTags", "ListVersionsByFunction",
    "PauseDurableExecution", "PublishLayerVersion", "PublishVersion", "PutFunctionCodeSigningConfig",
    "PutFunctionConcurrency", "PutFunctionEventInvokeConfig", "PutFunctionRecursionConfig",
    "PutFunctionScalingConfig", "PutProvisionedConcurrencyConfig", "PutResourcePolicy",
    "PutRuntimeManagementConfig", "RemoveLayerVersionPermission", "RemovePermission", "ResumeDurableExecution",
    "SendDurableExecutionCallbackFailure", "SendDurableExecutionCallbackHeartbeat",
    "SendDurableExecutionCallbackSuccess", "StopDurableExecution", "TagResource", "UntagResource", "UpdateAlias",
    "UpdateCapacityProvider", "UpdateCodeSigningConfig", "UpdateEventSourceMapping", "UpdateFunctionCode",
    "UpdateFunctionConfiguration", "UpdateFunctionEventInvokeConfig", "UpdateFunctionUrlConfig",
)
_ACTION_OF = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


def action_for(operation: str) -> str:
    """The IAM action that authorizes a Lambda operation: ``Invoke`` -> ``lambda:InvokeFunction``."""
    return f"lambda:{_ACTION_OF.get(operation, operation)}"


READ_ACTIONS = tuple(sorted({action_for(op) for op in OPERATIONS if op.startswith(("Get", "List"))}))
#: Invoking by any means: the two invoke operations, the deprecated InvokeAsync, a function URL.
INVOKE_ACTIONS = ("lambda:InvokeAsync", "lambda:InvokeFunction", "lambda:InvokeFunctionUrl")

DOCUMENTS: MappingProxyType[str, dict[str, Any]] = MappingProxyType({
    "LambentFullAccess": {"Version": VERSION, "Statement": [
        {"Sid": "FullAccess", "Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]},
    "LambentReadOnly": {"Version": VERSION, "Statement": [
        {"Sid": "ReadOnly", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"}]},
    "LambentInvokeOnly": {"Version": VERSION, "Statement": [
        {"Sid": "InvokeOnly", "Effect": "Allow", "Action": list(INVOKE_ACTIONS), "Resource": "*"}]},
})
POLICIES: MappingProxyType[str, Policy] = MappingProxyType(
    {name: compile_document(document, name=name) for name, document in DOCUMENTS.items()})
FULL_ACCESS = "LambentFullAccess"


def managed_arn(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"
