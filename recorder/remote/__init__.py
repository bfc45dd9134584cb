"""Remote media: live, playback, clips and event thumbnails for devices reached through the
relay, uploaded as ciphertext with rights the relay hands out (docs/ref/remote-media.md)."""
