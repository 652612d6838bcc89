"""Which machine a benchmark ran on: results from different machines are not comparable.

The project's machine changes between sessions (and its speed with it, by a factor of two or
more), so every result row says where and when it was measured.
"""

from __future__ import annotations

import datetime
import os
import platform


def cpu_model() -> str:
    """The processor's model name as Linux reports it, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """E.g. "Intel(R) Xeon(R) Processor, 2 cores, 2026-12-02"."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {datetime.date.today().isoformat()}"
