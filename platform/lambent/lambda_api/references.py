"""The function a call names: ``FunctionName`` as a name, partial ARN or full ARN, with a qualifier
from the ARN or the ``Qualifier`` parameter (which must then agree), as Lambda resolves them."""

from __future__ import annotations

from dataclasses import dataclass

from lambent.errors import InvalidParameter, NotFound
from lambent.functions.arns import parse_function_reference
from lambent.lambda_api.protocol import Call


@dataclass(frozen=True)
class Target:
    name: str
    qualifier: str | None


def target(call: Call, *, qualified: bool = True, field: str = "FunctionName") -> Target:
    """The function (and qualifier) of the call; ``qualified=False`` for operations on the
    function as a whole, which refuse a qualifier."""
    return resolve(call, call.params[field], qualifier=call.query.get("Qualifier"), qualified=qualified)


def resolve(call: Call, value: str, *, qualifier: str | None, qualified: bool = True) -> Target:
    reference = parse_function_reference(value, field="FunctionName")
    if reference.account_id is not None and reference.account_id != call.tenant.account_id:
        raise NotFound(f"Function not found: {value}")
    if reference.qualifier and qualifier and reference.qualifier != qualifier:
        raise InvalidParameter.field("Qualifier", "The derived qualifier from the function name does not match "
                                                  "the specified qualifier.")
    chosen = reference.qualifier or qualifier or None
    if chosen and not qualified:
        raise InvalidParameter.field("FunctionName", f"{value!r}: this operation takes an unqualified function "
                                                     "name or ARN.")
    return Target(name=reference.name, qualifier=chosen)
