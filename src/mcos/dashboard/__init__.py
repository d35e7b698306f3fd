"""The operator's dashboard: a page served by the control plane, live from the event stream."""
