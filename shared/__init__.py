"""Code every SBT service imports: settings, database, events, bus, outbox/inbox, auth, NIP."""
