"""What runs inside a sandbox: the agent and the language bootstraps.

Everything below this package runs in a sandbox with nothing but the interpreter, so it
uses the standard library only and imports nothing of the project (an import-linter
contract in pyproject.toml holds this).
"""
