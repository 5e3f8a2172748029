"""The consent registry: what a family agreed to share, with whom, for what, until when."""
