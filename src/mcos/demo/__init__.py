"""``mcos demo``: the seed's 23-agent fleet on the simulated provider, playing a day.

The control plane, the runner, the agent loops, the policy engine and the dashboard are the
real ones; only the model is scripted (:mod:`mcos.runtime.providers.simulated`), and the
director (:mod:`mcos.demo.director`) plays the operator's side: it puts work on the board at the
day's times and narrates what the fleet actually did, read back from the event log. Everything
the demo writes says it is simulated; its narration is :data:`mcos.domain.events.DEMO_SCENE`.
One agent of its fleet, Nova (``runtime = "external"``), is not the demo's: it is the slot for an
agent you bring (``examples/``), which the runner skips.
"""
