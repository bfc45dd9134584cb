"""Segments on disk, their SQLite index, start-up reconciliation and FIFO retention."""
