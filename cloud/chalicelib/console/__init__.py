"""What the relay admin sees and does: recorders, accounts, grants, audit."""
