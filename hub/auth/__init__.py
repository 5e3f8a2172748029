"""OAuth 2.0 for agency systems: SMART backend services, client credentials, private_key_jwt."""
