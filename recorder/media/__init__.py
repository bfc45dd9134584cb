"""Serving video: HLS playlists over stored segments, snapshots, live HLS and clips."""
