"""The limits of queues and messages, in one place (SQS's, where SQS has one).

Every check of these numbers reads them from here, and the API's schema states them from
here, so a limit changes in one line. Patterns are anchored and applied with ``re.fullmatch``
(``lambent.functions.limits`` says why).
"""

NAME_MAX = 80
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"

VISIBILITY_TIMEOUT_MIN_S, VISIBILITY_TIMEOUT_MAX_S, VISIBILITY_TIMEOUT_DEFAULT_S = 0, 43200, 30
RETENTION_MIN_S, RETENTION_MAX_S, RETENTION_DEFAULT_S = 60, 1209600, 345600

#: A message's body and attributes (names and values), counted in UTF-8 bytes.
MESSAGE_MAX_BYTES = 2 * 1024 * 1024
#: Messages one receive returns at most.
RECEIVE_MAX = 10
ATTRIBUTES_MAX = 10
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,256}$"

#: Expired messages one receive deletes at most; the rest go in later receives (none is ever returned).
PURGE_BATCH = 1000
