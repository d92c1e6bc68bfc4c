"""The token API and its API clients: the consumers' side of nsconnect.

It is its own app because it faces services, not people: requests carry an API key
instead of a session, answers are JSON, and its keys, use counts and rate limits
have nothing to do with how the dashboard's pages work. It only reads
authentications and asks authentications.services.token_single_flight for their tokens.
"""
