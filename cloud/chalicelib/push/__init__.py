"""Web Push delivery for recorders: the relay signs with its VAPID key and POSTs what the
recorder encrypted (docs/design/push.md, "Through the relay")."""
