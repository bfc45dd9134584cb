"""Web Push: VAPID keys, subscriptions, who is told about an event, encryption and delivery."""
