"""Agency adapters: each reads one agency kind's own exchange format into the hub's records."""
