"""Quotas: how many executions a tenant and each of its functions may run at once.

A tenant has a concurrent-execution limit and keeps an unreserved minimum of it, as an AWS
account does; a function may reserve part of the limit for itself, which is also its cap.
``admission`` holds the counters (leases in Redis) that the invoke paths take a slot from
before anything runs, so a limit holds across every api and worker process.
"""
