"""The one decision function: rules first, then consent, then shielding. Deny by default."""
