"""The API benchmark (issue 4): the LAN API on a 30-day, 10-camera store, and live view.

    .venv/bin/python -m bench.api --repeat 5 --json bench/out/api.json

Modules: `cli` (the command), `data` (the cached store), `server` (the recorder as a child
process), `client`, `recordings` and `live` (the measures), `report` (medians and the table).
See docs/ref/bench.md.
"""
