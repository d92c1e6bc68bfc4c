"""Key material: reading pasted or uploaded PEM, checking private keys and certificates
against NetSuite's rules before anything costly runs, loading stored keys for signing (the
cache), and generating key pairs. Nothing here touches the database."""
