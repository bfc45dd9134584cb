"""SkyCam command-line front door: one `skycam` script whose subcommands live in their packages."""
