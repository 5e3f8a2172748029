"""Encryption at rest and keyed look-ups: nothing personal is stored in clear."""
