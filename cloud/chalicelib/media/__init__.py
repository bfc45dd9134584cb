"""Remote media on the relay: upload rights for one media session prefix, signed download links,
encrypted event thumbnails. The relay stores ciphertext only (docs/ref/remote-media.md)."""
