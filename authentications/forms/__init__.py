"""Forms and the field rules they share: the authentication form, the key pair form, NetSuite's
rules for each field, and the upload day of a certificate."""
