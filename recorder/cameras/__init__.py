"""The set of cameras: from the config file, changed at runtime through the API."""
