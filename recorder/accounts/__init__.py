"""Local users, roles and per-camera rights; passwords, tokens, login throttling, audit log."""
