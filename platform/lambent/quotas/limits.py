"""The numbers of quotas that are not settings, in one place (Lambda's, where Lambda has one)."""

#: Code a tenant may store, as Lambda's default account limit (75 GB). Shown by GET /account.
TOTAL_CODE_SIZE_BYTES = 75 * 1024 * 1024 * 1024

#: Seconds a throttled caller is told to wait (Retry-After): a slot frees whenever any running
#: execution ends, which nothing predicts better than "soon".
RETRY_AFTER_SECONDS = 1

#: Lambda's reasons for a throttle, as the 429's ``reason`` and the throttle metric's label.
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
