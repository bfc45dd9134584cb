"""A bench's figures as it hands them over: printed, and written to `--json` when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit_figures(figures: dict[str, Any], json_path: Path | None, *, indent: int = 2) -> None:
    text = json.dumps(figures, indent=indent)
    print(text)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n", encoding="utf-8")
