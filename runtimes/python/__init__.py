"""The Python runtime: ``bootstrap.py`` serves a handler through the Lambda Runtime API."""
