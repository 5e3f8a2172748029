"""Operating the hub: backup, restore, and noticing a restore that went back in time."""
