"""Benchmark: every source kind's parse, one after the other (issue 3's figures).

    python bench/kinds.py

Runs bench/kinds_feed.py (2,000-item feeds), bench/kinds_html.py (a 500-event listing
with detail pages served from 127.0.0.1) and bench/kinds_facebook.py (10,000-event
export and Graph API pages); each prints events/s, peak memory and the iCal path on
the same events for comparison.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

for name in ("kinds_feed", "kinds_html", "kinds_facebook"):
    print(f"== {name} ==", flush=True)
    runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
    print(flush=True)
