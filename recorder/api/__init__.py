"""The recorder's HTTP API (/api/v1): the one API of the product, used on the LAN by the PWA and
forwarded unchanged by the relay. See docs/ref/api.md."""
