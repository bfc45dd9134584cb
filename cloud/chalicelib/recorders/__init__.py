"""Recorder identity (self-certifying ids, challenge-signature connects) and their registry."""
