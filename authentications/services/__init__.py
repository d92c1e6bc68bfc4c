"""Every write to the records, each with its audit event: authentications, tokens (one attempt,
its failures and the single flight around it), rotation (pending, verify, activate, roll back,
wipe), key pairs, NetSuite certificates, expiry notices, refresh alerts and encryption key
rotation. Also here: the test request, which calls NetSuite for a page and stores nothing
(rest_probe), and the rules of what an edit changes (credential_changes). Mail (emails.py) and
sign-in lockouts record their own audit events through audit_trail.audit, the one way an audit
row is written.

Views, tasks, commands and the API call these and translate to and from them; these call
netsuite/ and keys/ and the models, never a page.
"""
