"""The execution plane: Celery tasks (``worker.tasks``) and the executors that run sandboxes.

Tasks take ids and call services of the ``lambent`` apps; executors are reached only
through the ``worker.executors`` facade. The Celery app itself is ``lambent.celery``.
"""
