"""The wire as a contract: request and response types, route paths and the shared vocabulary."""
