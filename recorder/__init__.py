"""SkyCam recorder: capture, storage, API and tunnel client of one on-prem site."""
