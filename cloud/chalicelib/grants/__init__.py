"""Which cloud accounts may open sessions to which recorders."""
