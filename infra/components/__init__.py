"""One Construct per component of the relay's deployment; the Stack wires them."""
