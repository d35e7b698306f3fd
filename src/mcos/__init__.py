"""Mission Control OS: control plane, dashboard and agent runtime for LLM agent fleets."""

__version__ = "0.1.0"
