"""Network zones: probes of hosts the bot cannot reach run on a runner inside their zone (docs/zones.md).

``plan`` (pure) says which zone does what; ``queue`` is the procrastinate app and
the job/result tables; ``runner`` is ``whycant runner``; ``fanout`` runs one
diagnosis across zones and assembles one ``Evidence``.
"""
