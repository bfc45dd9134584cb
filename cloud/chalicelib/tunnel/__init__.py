"""Routing of the tunnel protocol (docs/ref/tunnel.md): connections, sessions, forwarding."""
