"""The OpenClaw bridge: ``mcos import openclaw`` and ``mcos export openclaw``.

OpenClaw (the runtime the seed's fleet ran on) keeps its agents in ``openclaw.json`` (JSON5).
The import turns that into a fleet file of ``runtime = "external"`` agents and reports what it
could not map; the export writes, for each such agent, the tool policy its capabilities allow
and the ``mcp.servers`` entry that points it at Mission Control, so one fleet file governs both.
Written from OpenClaw's published configuration reference; see docs/openclaw.md.
"""
