"""Thin pages: each reads a request, calls a service or a selector, and renders the answer.
Access is checked first, in one place (permissions.py)."""
