"""Events: what starts a function without a caller. For now, schedules (EventBridge Scheduler's model).

A schedule names a function and an expression (``cron()``, ``rate()``, ``at()``) in a time zone;
``lambent beat`` sends the tick task (``firing.tick``) every ``SCHEDULE_TICK_SECONDS``, and the
worker that runs it fires what is due as an ``Event`` invocation. Each scheduled time is claimed
once in the database (a unique ``Firing`` row), so two beats, or two workers running two ticks at
once, never fire it twice. ``scheduler_api`` serves the same schedules to boto3's ``scheduler``.
"""
