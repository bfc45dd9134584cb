"""Every name under a site's `data_dir`, in one place.

A recorder keeps all of its state in one directory. Before, its names were spelled in the
modules that used them (the index in the service, the site database in the API and two CLIs,
the quarantine in reconciliation, the secrets in four places), so moving one meant finding
them all. Modules now take the paths they need from a `Site` (or are handed a path by whoever
holds one) and never join names onto `data_dir` themselves; tests/unit/test_site.py holds
them to it.

```
<data_dir>/
  recordings/<camera>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4   segments (storage/layout.py)
  quarantine/<camera>/                                 damaged final segments, kept for a human
  clips/                                               exported clips
  thumbnails/                                          event thumbnails
  secrets/                                             0600 keys and the first admin password
  index.sqlite3                                        the segment index (rebuildable)
  site.sqlite3                                         users, rights, clips, camera overrides...
  events.sqlite3                                       motion events
  recorder.toml, relay/                                `skycam up` only: its config, its relay
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A camera id names its directories (recordings/<camera>/, quarantine/<camera>/...), so it is
# a file-name rule: lower case, digits, '-' and '_', never a path separator or '..'.
CAMERA_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

RECORDINGS_DIR = "recordings"
QUARANTINE_DIR = "quarantine"  # outside recordings/, so never indexed
CLIPS_DIR = "clips"
THUMBNAILS_DIR = "thumbnails"
SECRETS_DIR = "secrets"
INDEX_DB = "index.sqlite3"
SITE_DB = "site.sqlite3"
EVENTS_DB = "events.sqlite3"
# What `skycam up` (a demo on one machine) keeps beside the recorder's own state.
DEMO_CONFIG = "recorder.toml"
DEMO_RELAY_DIR = "relay"

# Files under secrets/ (each 0600, generated on first use, never logged).
API_SIGNING_KEY = "api-signing.key"
VAPID_KEY = "vapid.pem"
FIRST_ADMIN_PASSWORD = "first-admin-password"
LAN_CERT = "lan-cert.pem"
LAN_KEY = "lan-key.pem"
RELAY_SIGNING_KEY = "relay-ed25519.key"
TUNNEL_STATIC_KEY = "tunnel-x25519.key"
RELAY_PUSH_KEY = "relay-vapid.pub"  # the relay's public VAPID key, as last heard (not secret)
MEDIA_KEY = "media.key"  # remote media: thumbnail keys and opaque camera keys derive from it


@dataclass(frozen=True)
class Site:
    """The files of one site under `data_dir`. Building one touches nothing on disk."""

    data_dir: Path

    @property
    def recordings(self) -> Path:
        return self.data_dir / RECORDINGS_DIR

    @property
    def quarantine(self) -> Path:
        return self.data_dir / QUARANTINE_DIR

    @property
    def clips(self) -> Path:
        return self.data_dir / CLIPS_DIR

    @property
    def thumbnails(self) -> Path:
        return self.data_dir / THUMBNAILS_DIR

    @property
    def secrets(self) -> Path:
        return self.data_dir / SECRETS_DIR

    @property
    def index_db(self) -> Path:
        return self.data_dir / INDEX_DB

    @property
    def site_db(self) -> Path:
        return self.data_dir / SITE_DB

    @property
    def events_db(self) -> Path:
        return self.data_dir / EVENTS_DB

    @property
    def demo_config(self) -> Path:
        return self.data_dir / DEMO_CONFIG

    @property
    def demo_relay(self) -> Path:
        return self.data_dir / DEMO_RELAY_DIR

    def secret(self, name: str) -> Path:
        """A file under secrets/, named by one of this module's constants."""
        return self.secrets / name

    def create(self) -> None:
        """Make `data_dir` (private to its owner) and its recordings directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.recordings.mkdir(exist_ok=True)
