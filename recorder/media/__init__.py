"""Serving video: HLS playlists over stored segments, snapshots, (later) live HLS and clips."""
