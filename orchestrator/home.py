"""Where a server keeps its embedded state unless told otherwise. The CLI reads a local server's
admin token from there too, so this module imports nothing heavier than platformdirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_home() -> Path:
    return Path(os.environ.get("LAINO_HOME") or platformdirs.user_data_dir("laino"))
