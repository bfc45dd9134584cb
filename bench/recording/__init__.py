"""The recording benchmark (issue 3, issue 13): our recorder against ffmpeg copying the same
cameras. The command is `python -m bench.recording` (cli.py); docs/ref/bench.md, "Recording"."""
