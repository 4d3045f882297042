"""EventBridge Scheduler's API over the schedules of ``lambent.events``, so boto3's ``scheduler`` client works.

A thin layer, as ``lambent.lambda_api`` is for functions: ``views`` matches the operation and
verifies the SigV4 signature (signing name ``scheduler``), ``operations`` maps each operation's
members onto ``services.ScheduleSpec`` and the selectors, ``protocol`` is the wire (rest-json,
Scheduler's error names). It lives inside the events app, not beside ``lambda_api``: it serves
nothing but schedules, and the layering keeps ``lambda_api`` above ``events`` (the event source
mappings of the Lambda API will call into ``events``), so the two API layers never import each other.
"""
