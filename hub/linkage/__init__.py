"""Linking the records of one child across agencies into the master index."""
