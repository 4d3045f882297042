"""The native REST API, ``/api/v1``: what every app's ``api/`` package shares.

Each domain app keeps its own serializers, views and routes in ``<app>/api/``; this
package holds the pieces common to all of them (the tenant-scoped base view, the
pagination, the mapping of errors to responses) and the URL root that mounts them.
"""
