"""The agent runtime: the loop that drives one agent's model calls and tools."""
