"""Lambda's limits on a function's configuration and code, in one place.

Every check of these numbers reads them from here, and the API's schema states them from
here, so a limit changes in one line. Patterns are anchored (``^...$``) and always applied
with ``re.fullmatch``, which reads them as JSON Schema does: ``$`` is the end of the value,
never a newline before it; their classes are spelled out (``[0-9]``, not ``\\d``), which Python
and ECMA-262 read alike.
"""

NAME_MAX = 64
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ALIAS_NAME_MAX = 128
# Any name of letters, digits, '-' and '_' that is not all digits (those are versions).
ALIAS_NAME_PATTERN = r"^(?![0-9]+$)[A-Za-z0-9_-]{1,128}$"
HANDLER_MAX = 128
#: Printable ASCII without spaces: a module path and a function, or a custom runtime's word.
HANDLER_PATTERN = r"^[!-~]{1,128}$"
ROLE_PATTERN = r"^arn:(aws[a-zA-Z-]*)?:iam::[0-9]{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
TAGS_MAX = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
DESCRIPTION_MAX = 256
#: A version as a qualifier names it: $LATEST or a published number (leading zeros allowed, 0 is none).
VERSION_PATTERN = r"^(\$LATEST|0*[1-9][0-9]*)$"
#: A qualifier: a version or an alias.
QUALIFIER_PATTERN = r"^(\$LATEST|0*[1-9][0-9]*|(?![0-9]+$)[A-Za-z0-9_-]{1,128})$"
#: A qualifier of a published version: a number or an alias.
PUBLISHED_QUALIFIER_PATTERN = r"^(0*[1-9][0-9]*|(?![0-9]+$)[A-Za-z0-9_-]{1,128})$"

MEMORY_MIN_MB, MEMORY_MAX_MB, MEMORY_DEFAULT_MB = 128, 10240, 128
TIMEOUT_MIN_S, TIMEOUT_MAX_S, TIMEOUT_DEFAULT_S = 1, 900, 3
EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB, EPHEMERAL_DEFAULT_MB = 512, 10240, 512

ENVIRONMENT_MAX_BYTES = 4 * 1024
ENVIRONMENT_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]+$"
# Set by the platform inside every sandbox; a function may not override them.
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

CODE_ZIPPED_MAX_BYTES = 50 * 1024 * 1024
CODE_UNZIPPED_MAX_BYTES = 250 * 1024 * 1024

#: The longest client context an invocation may carry, base64-encoded as it is sent (Lambda's limit).
CLIENT_CONTEXT_MAX_BYTES = 3583
