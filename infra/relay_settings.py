"""The relay's Lambda environment, derived from the relay's own config code.

`cloud/chalicelib/config.py` reads `SKYCAM_RELAY_<FIELD>` for each field of `RelayConfig` and
refuses unknown ones; so the environment is written from those fields: a setting the relay adds
is deployed with its default, one it drops disappears, and a name can never be misspelt here.
"""

from __future__ import annotations

from dataclasses import fields

from cloud.chalicelib.config import PREFIX, RelayConfig


def env_name(field: str) -> str:
    return f"{PREFIX}{field.upper()}"


def relay_environment(config: RelayConfig) -> dict[str, str]:
    """Every setting with a value; empty strings are the local host's (data_dir) and left out."""
    env: dict[str, str] = {}
    for field in fields(RelayConfig):
        value = getattr(config, field.name)
        if value == "":
            continue
        env[env_name(field.name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return env
