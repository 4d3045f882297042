"""Queues: durable, tenant-owned message queues in the database, SQS semantics kept small.

Asynchronous invocations send their destination records and dead letters to a queue, and
tenants send, receive and delete messages through the API. Receiving hides a message for a
visibility timeout instead of removing it, so a consumer that dies before deleting it does
not lose it: the message comes back.
"""
