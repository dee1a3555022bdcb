"""A lenient reader for terminal pastes: any mix of outputs, split and recognised line by line.

A paste is what a person copied from a terminal: prompts and command lines, ``date``
lines, ``...`` where lines were cut, non-root warnings, comments, and the outputs
of several commands (``netstat -s``, ``nstat``, ``/proc/net/netstat``, ``ss -ltn``,
``sysctl -a``, ``cat /proc/sys/...`` + value, ``ss -s``, ``/proc/net/sockstat``,
``conntrack -C``...), whole or as ``grep`` fragments.

:func:`read_paste_text` is pure: text in, a :class:`PasteReading` out.  Each line is
classified on its own (so a grep fragment without its section header is still
recognised by its wording); command lines split the paste into runs, and a
counter seen twice starts a new run, so two ``netstat -s`` runs are a before and
an after.  Lines that are neither output nor known noise are kept as *ignored*,
never guessed at.

The parts, by job (docs/analyze.md): ``session`` (prompts, command lines, dates, noise),
``sections`` (one reader per kind of output), ``wording`` (``netstat -s`` lines by their
wording, grep fragments), ``snapshots`` (counter runs -> before/after), ``model`` (the
reading), ``reader`` (the line loop).
"""

from probes.parsers.paste.model import CounterRun, PasteReading
from probes.parsers.paste.reader import EXPECTED, describe_skipped, read_paste_text
from probes.parsers.paste.session import parse_date
from probes.parsers.paste.snapshots import netstat_run, snapshots, window_between, zero_fill

__all__ = [
    "EXPECTED",
    "CounterRun",
    "PasteReading",
    "describe_skipped",
    "netstat_run",
    "parse_date",
    "read_paste_text",
    "snapshots",
    "window_between",
    "zero_fill",
]
