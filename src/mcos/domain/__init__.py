"""Pure domain types and state machines: no storage, no HTTP."""
