"""Status: the shared read side. One status per civil servant, case timelines, figures."""
