"""SBT services: each a process of its own with its own database, talking to the others only by events."""
