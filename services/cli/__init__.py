"""The `sbt` command and the operator's tools behind it (run, demo, replay, verify, export, contracts, ops),
kept apart from the services they start and talk to: nothing in services/<name>/ imports from here."""
