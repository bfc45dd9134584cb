"""The relay's logic, one package per domain (accounts, devices, grants, tunnel, media, push)."""
