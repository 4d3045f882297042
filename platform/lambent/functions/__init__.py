"""Functions, their immutable versions, the aliases that point at them, and their code."""
