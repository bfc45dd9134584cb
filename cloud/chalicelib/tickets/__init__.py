"""One-time WebSocket tickets for devices (browsers cannot set headers on a WebSocket)."""
