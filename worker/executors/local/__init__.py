"""The local execution backend: bubblewrap sandboxes and cgroups on this host."""

from worker.executors.local.executor import LocalExecutor

__all__ = ["LocalExecutor"]
