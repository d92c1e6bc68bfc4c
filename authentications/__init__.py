"""HTTP authentications: NetSuite OAuth 2.0 client credentials, their keys and tokens."""
