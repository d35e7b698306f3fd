"""The policy engine: every sensitive action decided by one pure function.

``decide(request)`` returns :class:`Allow`, :class:`Deny` (with the rule and the reason) or
:class:`NeedsApproval` (with the approvers); rules are data plus small functions, testable
without a server. Services record every decision as an event, denials included.
"""

from mcos.policy.actions import ACTION_KINDS, Action
from mcos.policy.decisions import Allow, Decision, Deny, NeedsApproval
from mcos.policy.engine import Grant, PolicyRequest, decide, needs_grants

__all__ = [
    "ACTION_KINDS",
    "Action",
    "Allow",
    "Decision",
    "Deny",
    "Grant",
    "NeedsApproval",
    "PolicyRequest",
    "decide",
    "needs_grants",
]
