"""Mail: the mailboxes agents watch (IMAP, Microsoft 365), triage, the digest, gated sending.

The runner of the owning agent's machine reads each account incrementally (``imap.py``,
``graph.py``) and hands new messages to the control plane with the account's new cursor in one
write, so a restart never reads a message twice or loses one. Mail is untrusted input: it is
data shown to the model, never instructions, and nothing in it grants anything.
"""
