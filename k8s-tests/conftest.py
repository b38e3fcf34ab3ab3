"""k8s-tests: the helper modules beside the tests are imported by name (pytest runs with importlib mode)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
