"""Forms and the field rules they share: the authentication form and its key version fields, the
rotation wizard's Certificate ID step, the key pair forms, NetSuite's rules for each field, and the
upload day of a certificate."""
