"""The site database (data_dir/site.sqlite3) and its whole schema: users, rights, login
sessions, audit log, clips, camera overrides, integrations, tunnel devices and invitations,
camera groups, push, webhook signatures. One file, beside recorder/site.py (which names it), so
a branch adding a table appends a migration here and nowhere else.

Kept apart from the segment index: the index is hot (a row every few seconds per camera) and
rebuildable from the files; this one is small, precious and cannot be rebuilt, so it commits
with synchronous=FULL.
"""

from __future__ import annotations

from pathlib import Path

from recorder.storage.migrations import Migration
from recorder.storage.sqlite import SqliteDatabase

SITE_MIGRATIONS = (
    Migration(
        1,
        "users, camera rights, login sessions, refresh tokens, audit log",
        (
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                username TEXT NOT NULL UNIQUE COLLATE NOCASE,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
                disabled INTEGER NOT NULL DEFAULT 0,
                created_ms INTEGER NOT NULL,
                password_changed_ms INTEGER NOT NULL
            )""",
            """CREATE TABLE camera_rights (
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                camera_id TEXT NOT NULL,
                rights TEXT NOT NULL,
                PRIMARY KEY (user_id, camera_id)
            )""",
            # One row per login: access tokens carry its id, so logging out (or a detected
            # refresh-token reuse) ends the session at once, not when its access token expires.
            """CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_ms INTEGER NOT NULL,
                last_used_ms INTEGER NOT NULL,
                revoked_ms INTEGER,
                client TEXT NOT NULL DEFAULT ''
            )""",
            """CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                issued_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                used_ms INTEGER
            )""",
            "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at_ms INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                camera_id TEXT,
                target TEXT NOT NULL DEFAULT '',
                outcome TEXT NOT NULL DEFAULT 'ok',
                client TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX audit_at ON audit (at_ms)",
            "CREATE INDEX audit_camera ON audit (camera_id, at_ms)",
            "CREATE INDEX audit_actor ON audit (actor, at_ms)",
        ),
    ),
    Migration(
        2,
        "clips",
        (
            """CREATE TABLE clips (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                camera_id TEXT NOT NULL,
                name TEXT NOT NULL,
                start_ms INTEGER NOT NULL,
                end_ms INTEGER NOT NULL,
                exact INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'ready', 'failed')),
                progress REAL NOT NULL DEFAULT 0,
                bytes INTEGER NOT NULL DEFAULT 0,
                duration_ms INTEGER NOT NULL DEFAULT 0,
                error TEXT NOT NULL DEFAULT '',
                created_by TEXT NOT NULL,
                created_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX clips_camera ON clips (camera_id, created_ms)",
        ),
    ),
    Migration(
        3,
        "cameras changed through the API",
        (
            # The full camera config as JSON (with its RTSP password: this file is 0600). A
            # row overrides the config file's camera of the same id; `deleted` hides it.
            """CREATE TABLE cameras (
                id TEXT PRIMARY KEY,
                config TEXT NOT NULL,
                deleted INTEGER NOT NULL DEFAULT 0,
                updated_ms INTEGER NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "integrations: devices that add events through signed webhooks",
        (
            # The secret is the HMAC key itself (a hash could not check a signature): 0600 file.
            """CREATE TABLE integrations (
                name TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                cameras TEXT NOT NULL DEFAULT '[]',
                created_ms INTEGER NOT NULL,
                created_by TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        5,
        "relay tunnel: invitations and devices",
        (
            # The secret is the recorder's own (this file is 0600); the relay only ever learns
            # the id. A row is used, revoked or expired at most once and never comes back.
            """CREATE TABLE tunnel_invitations (
                id TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_by TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                registered_ms INTEGER,
                used_ms INTEGER,
                device_id INTEGER,
                revoked_ms INTEGER
            )""",
            # A device is a Noise static public key bound to a recorder user and the cloud
            # account that enrolled it. A revoked key stays here so it can never enrol again.
            """CREATE TABLE tunnel_devices (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                public_key TEXT NOT NULL UNIQUE,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                account TEXT NOT NULL,
                invitation TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                last_seen_ms INTEGER,
                revoked_ms INTEGER
            )""",
            "CREATE INDEX tunnel_devices_account ON tunnel_devices (account)",
            "CREATE INDEX tunnel_devices_user ON tunnel_devices (user_id)",
        ),
    ),
    Migration(
        6,
        "saved camera groups of the live wall, per user",
        (
            # One JSON list per user (the PWA's mosaics): small, always read and written whole.
            """CREATE TABLE camera_groups (
                user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
                groups TEXT NOT NULL,
                updated_ms INTEGER NOT NULL
            )""",
        ),
    ),
    Migration(
        7,
        "web push: subscriptions, notifications sent (dedupe), undelivered ones (outbox)",
        (
            """CREATE TABLE push_subscriptions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                endpoint TEXT NOT NULL UNIQUE,
                p256dh TEXT NOT NULL,
                auth TEXT NOT NULL,
                device TEXT NOT NULL DEFAULT '',
                cameras TEXT,
                quiet_start TEXT,
                quiet_end TEXT,
                time_zone TEXT NOT NULL DEFAULT 'UTC',
                -- The login that subscribed: when it ends (logout, password reset, disabled
                -- account) the subscription goes too.
                session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
                created_ms INTEGER NOT NULL,
                last_ok_ms INTEGER
            )""",
            "CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id)",
            # One row per (event, subscription) ever attempted: each event notifies once.
            """CREATE TABLE push_sent (
                event_id INTEGER NOT NULL,
                subscription_id INTEGER NOT NULL,
                at_ms INTEGER NOT NULL,
                PRIMARY KEY (event_id, subscription_id)
            )""",
            "CREATE INDEX push_sent_at ON push_sent (at_ms)",
            # Encrypted notifications whose delivery failed for transport reasons.
            """CREATE TABLE push_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                subscription_id INTEGER NOT NULL
                    REFERENCES push_subscriptions (id) ON DELETE CASCADE,
                event_id INTEGER NOT NULL,
                camera_id TEXT NOT NULL,
                body BLOB NOT NULL,
                topic TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX push_outbox_next ON push_outbox (next_ms)",
        ),
    ),
    Migration(
        8,
        "webhook signatures accepted within their window (replays refused across restarts)",
        (
            # key: SHA-256 of the integration and the signature; forget_at: Unix seconds.
            """CREATE TABLE webhook_signatures (
                key TEXT PRIMARY KEY,
                forget_at REAL NOT NULL
            )""",
            "CREATE INDEX webhook_signatures_forget ON webhook_signatures (forget_at)",
        ),
    ),
    Migration(
        9,
        "web push: subscriptions bound to a tunnel device, and the VAPID key they were made for",
        (
            # Made through the tunnel: bound to the enrolled device (revoking it ends them),
            # not to the tunnel session's login, which ends whenever the app closes.
            "ALTER TABLE push_subscriptions ADD COLUMN device_id INTEGER "
            "REFERENCES tunnel_devices (id) ON DELETE CASCADE",
            # The applicationServerKey the browser subscribed with: the recorder's own (sent
            # directly) or the relay's (sent through the relay). NULL: the recorder's.
            "ALTER TABLE push_subscriptions ADD COLUMN server_key TEXT",
            "CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id)",
        ),
    ),
)


class SiteDatabase(SqliteDatabase):
    what = "site database"
    synchronous = "FULL"
    file_mode = 0o600  # password hashes, refresh tokens, RTSP passwords, webhook secrets

    def __init__(self, path: Path) -> None:
        super().__init__(path, SITE_MIGRATIONS)
