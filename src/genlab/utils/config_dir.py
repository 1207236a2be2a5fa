"""Where genlab's Hydra configs live: resolved once, here (a leaf: imports nothing of genlab).

``$GENLAB_CONFIG_DIR`` when set, else the ``conf/`` folder of the source tree (an editable
install, the supported way to run genlab).
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR: str = os.environ.get(
    "GENLAB_CONFIG_DIR", str(Path(__file__).resolve().parents[3] / "conf")
)
