"""Invitation ids registered by recorders (never their secrets)."""
