"""The national dashboard, served by the status service from its own read model: server-rendered HTML,
one small script for live updates (server-sent events), no build step."""
