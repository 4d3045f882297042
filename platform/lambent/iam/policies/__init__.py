"""The policy engine: IAM-like identity policies, resource policies and one decision point.

A sub-package rather than two modules because the engine has several separable concerns,
each small enough to read at once:

- ``conditions``: the condition operators and IAM's rules for missing and multi-valued keys;
- ``documents``: the grammar of a policy document, compiled once into an immutable form;
- ``managed``: the policies the platform ships, and which Lambda actions are reads;
- ``principals``: who is asking, and the ARNs of users and tenants;
- ``evaluation``: ``evaluate`` (pure: compiled policies in, a ``Decision`` out) and
  ``authorize``, which loads a caller's policies (``cache``) and a resource's policy
  (``resources``) and evaluates;
- ``services`` and ``selectors``: the writes and tenant-scoped reads of groups, policies and
  attachments, as every app has them.

Nothing in the APIs calls ``authorize`` yet; ``POST /api/v1/iam/simulate`` does.
"""
