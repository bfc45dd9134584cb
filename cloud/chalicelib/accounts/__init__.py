"""Cloud accounts: sign-up, login, refresh, logout, roles, throttling."""
