"""Watch mode (docs/watch.md): light connect attempts per interval, full evidence at the moment of failure.

spec (chat text -> WatchSpec) · limits (SYN budget per target) · episodes (pure state machine) ·
stats (per-minute buckets -> summary/table) · chart (PNG) · store (database rows, claims) ·
runner (one watch's loop) · manager (every watch of one process: join, resume, stop).
"""
