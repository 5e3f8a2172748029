"""Agencies, their practitioners and the systems that call the hub on their behalf."""
