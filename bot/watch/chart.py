"""A PNG of failures over time per vantage (uploaded to the watch's thread)."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Mapping


def failures_png(buckets: Mapping[str, Mapping[str, list[int]]], *, title: str) -> bytes:
    """One line per vantage: failed attempts per minute (0 where it tried and all succeeded)."""
    # matplotlib takes ~0.5 s to import: only when a chart is drawn, never at CLI start-up
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display: render to bytes only
    import matplotlib.dates as mdates  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    try:
        for vantage in sorted(buckets):
            points = sorted((int(m), c[1]) for m, c in buckets[vantage].items())
            xs = [datetime.fromtimestamp(m, timezone.utc) for m, _ in points]
            ax.step(mdates.date2num(xs), [f for _, f in points], where="post", label=vantage, marker="o", markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("failed attempts / min")
        ax.set_xlabel("UTC")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.set_ylim(bottom=0)
        if buckets:
            ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)
