"""The errors that services raise, in two trees: the user's faults and the platform's.

    LambentError
    ├── UserError                  the caller can fix it; answered 4xx
    │   ├── InvalidParameter       400, with the offending fields
    │   ├── CodeStorageExceeded    400, an upload over the tenant's code storage limit
    │   ├── Unauthenticated        401, no valid credentials
    │   ├── AccessDenied           403, valid credentials that may not act
    │   ├── InvalidSignature       403, a SigV4 signature that does not verify
    │   ├── UnrecognizedClient     403, a SigV4 access key id nobody issued
    │   ├── MissingAuthenticationToken  403, a Lambda API request not signed at all
    │   ├── NotFound               404; also what another tenant's resource answers
    │   ├── Conflict               409, e.g. deleting a version an alias points to
    │   ├── PreconditionFailed     412, a stale RevisionId
    │   ├── RequestTooLarge        413
    │   └── Throttled              429, over a concurrency limit; with a reason and Retry-After
    └── PlatformError              our fault; answered 5xx and logged
        └── ServiceUnavailable     503, a dependency is down

Services know nothing of HTTP. Each class carries the status and the error type the
API layers answer with; ``lambent.api.exceptions`` is the one place that turns them
into responses. The type names are Lambda's, so the Lambda-compatible API can reuse them.
"""

from __future__ import annotations


class LambentError(Exception):
    status_code = 500
    error_type = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(LambentError):
    status_code = 400
    error_type = "InvalidRequestContentException"


class InvalidParameter(UserError):
    """Bad input. ``fields`` maps each offending field to its messages."""

    status_code = 400
    error_type = "InvalidParameterValueException"

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None) -> None:
        self.fields = fields or {}
        if message is None:
            message = " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in self.fields.items())
        super().__init__(message)

    @classmethod
    def field(cls, name: str, message: str) -> InvalidParameter:
        return cls(fields={name: [message]})


class CodeStorageExceeded(UserError):
    """An upload would take the tenant's stored code over its limit."""

    status_code = 400
    error_type = "CodeStorageExceededException"


class Unauthenticated(UserError):
    status_code = 401
    error_type = "UnauthorizedException"


class AccessDenied(UserError):
    status_code = 403
    error_type = "AccessDeniedException"


class InvalidSignature(UserError):
    """An AWS Signature Version 4 that does not verify (or is out of its time window)."""

    status_code = 403
    error_type = "InvalidSignatureException"


class MissingAuthenticationToken(UserError):
    """A Lambda API request that is not signed at all."""

    status_code = 403
    error_type = "MissingAuthenticationTokenException"


class UnrecognizedClient(UserError):
    """A SigV4 request signed with an access key id nobody issued."""

    status_code = 403
    error_type = "UnrecognizedClientException"


class NotFound(UserError):
    status_code = 404
    error_type = "ResourceNotFoundException"


class ProvisionedConcurrencyConfigNotFound(NotFound):
    """The function exists, without a provisioned concurrency config for that qualifier."""

    error_type = "ProvisionedConcurrencyConfigNotFoundException"


class Conflict(UserError):
    status_code = 409
    error_type = "ResourceConflictException"


class PreconditionFailed(UserError):
    status_code = 412
    error_type = "PreconditionFailedException"


class RequestTooLarge(UserError):
    status_code = 413
    error_type = "RequestTooLargeException"


class Throttled(UserError):
    """Over a concurrency limit: the caller may try again after ``retry_after`` seconds.
    ``reason`` is Lambda's (``ReservedFunctionConcurrentInvocationLimitExceeded`` or
    ``ConcurrentInvocationLimitExceeded``), so a client can tell which limit it met."""

    status_code = 429
    error_type = "TooManyRequestsException"

    def __init__(self, message: str, *, reason: str, retry_after: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class PlatformError(LambentError):
    status_code = 500
    error_type = "ServiceException"


class ServiceUnavailable(PlatformError):
    status_code = 503
    error_type = "ServiceUnavailableException"
