"""Other devices (doorbells, alarm panels, number-plate cameras) adding events through signed
webhooks. See docs/design/webhooks.md."""
