"""Thin pages: each reads a request, checks access first (permissions.py: authentication_for
or require_permission), calls a service or a selector, and renders the answer. sign_in.py also
holds the sign-in throttle's hooks for django-axes and records lockouts in the audit trail."""
