"""The NetSuite protocol, and nothing else: the token URL and account rules, the signed
assertion, the one HTTP exchange every request goes through, the token request, the REST
request behind "Send test request", and the certificate endpoint.

Nothing here reads or writes the database: services/ call these modules and store what
they answer. The facts and their sources are in shared NETSUITE.md.
"""
