"""What the console keeps of its own: saved test events and failed sign-ins.

Everything else it shows belongs to the other apps and is read through their selectors.
"""

from __future__ import annotations

from django.db import models

from lambent.functions.models import Function


class TestEvent(models.Model):
    """An event saved on a function's test tab, to invoke it with again. It belongs to the
    function (and so to its tenant) and goes when the function is deleted."""

    __test__ = False  # not a pytest test class, whatever its name

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="test_events")
    name = models.CharField(max_length=64)
    payload = models.TextField(help_text="The event as JSON text, as typed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["function", "name"], name="console_test_event_unique")]

    def __str__(self) -> str:
        return f"{self.function.name}: {self.name}"


class SignInFailure(models.Model):
    """One failed sign-in, counted against the username and the address it came from
    (``lambent.console.throttling``). In the database so every api process sees the same count."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["username", "address", "at"], name="console_failure_lookup")]
