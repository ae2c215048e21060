"""Gene -> peak links."""
