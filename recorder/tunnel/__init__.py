"""The recorder's side of the cloud relay: identity, the sealed channel, the tunnel client,
devices and invitations, and the brokering of /api/v1 calls (docs/design/tunnel.md)."""
