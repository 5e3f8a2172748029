"""The master index: people, the agency records linked to them, and their families."""
