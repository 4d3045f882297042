"""The numbers of quotas that are not settings, in one place (Lambda's, where Lambda has one)."""

#: Seconds a throttled caller is told to wait (Retry-After): a slot frees whenever any running
#: execution ends, which nothing predicts better than "soon".
RETRY_AFTER_SECONDS = 1

#: Lambda's reasons for a throttle, as the 429's ``reason`` and the throttle metric's label.
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
