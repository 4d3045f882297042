"""The Kubernetes backend: functions run in pods, one invocation at a time per pod."""
