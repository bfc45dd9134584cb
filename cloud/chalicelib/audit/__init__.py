"""The audit log of sign-ins, registrations, invitations, grants and brokered sessions."""
