"""The Kubernetes backend: functions run in pods, one invocation at a time per pod."""

from worker.executors.kubernetes.executor import KubernetesExecutor

__all__ = ["KubernetesExecutor"]
