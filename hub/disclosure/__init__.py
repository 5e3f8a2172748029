"""Tamper-evident disclosure log: every disclosure is appended to a verifiable Merkle log."""
