"""Where a resource's own policy comes from.

The iam app is the lowest layer and imports no other app, so the app that owns a kind of
resource registers a source here (the functions app does, in its ``AppConfig.ready``): a
callable that, given an ARN, answers the compiled resource policy of that resource, or None
when it has none or is not its kind.
"""

from __future__ import annotations

from collections.abc import Callable

from lambent.iam.policies.documents import Policy

Source = Callable[[str], Policy | None]
_sources: list[Source] = []


def register(source: Source) -> None:
    if source not in _sources:
        _sources.append(source)


def policy_of(arn: str) -> Policy | None:
    for source in _sources:
        found = source(arn)
        if found is not None:
            return found
    return None
