"""Every write, each with its audit event: authentications, tokens (one attempt and the
single flight around it), rotation (pending, verify, activate, roll back, wipe), key pairs,
NetSuite certificates, expiry notices and encryption key rotation.

Views, tasks, commands and the API call these and translate to and from them; these call
netsuite/ and keys/ and the models, never a page.
"""
