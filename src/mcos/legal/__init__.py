"""Legal drafting: South African document templates rendered to .docx from the entity
registry, and the checker that refuses a draft disagreeing with it (see README.md)."""
