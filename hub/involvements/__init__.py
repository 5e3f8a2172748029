"""Which agency and practitioner work with a person: what "who else is involved" answers."""
