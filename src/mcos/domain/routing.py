"""Routing an incoming request to the agent whose role and capabilities fit, saying why.

Pure: the rules come from the fleet file's ``[[routing]]``, the candidates (liveness, open
tasks) from the caller. :func:`route` returns a :class:`RoutingDecision` whose ``explanation``
a person can read in the event log: which rule matched on which words, why the chosen agent
over the others, who was skipped and why — or why nobody was chosen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcos.domain.liveness import Liveness

ALIVE = (Liveness.IDLE, Liveness.WORKING, Liveness.COMPACTING, Liveness.COOLING_DOWN)
"""Liveness in which an agent will pick work up soon, best first."""
_RANK = {state.value: rank for rank, state in enumerate(ALIVE)}


@dataclass(frozen=True)
class RoutingRequest:
    title: str
    text: str = ""
    kind: str | None = None
    capabilities: tuple[str, ...] = ()
    """Capabilities the request itself needs, on top of the rule's."""


@dataclass(frozen=True)
class Rule:
    name: str
    keywords: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    role: str | None = None
    agent: str | None = None
    capabilities: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class Candidate:
    name: str
    role: str
    capabilities: frozenset[str]
    liveness: str
    open_tasks: int = 0


@dataclass(frozen=True)
class Match:
    rule: Rule
    words: tuple[str, ...]
    """The keywords found, as written in the rule."""
    by_kind: bool

    def describe(self) -> str:
        why = []
        if self.words:
            why.append("mentions " + ", ".join(repr(w) for w in self.words))
        if self.by_kind:
            why.append("is of a kind it lists")
        return f"rule {self.rule.name!r} (priority {self.rule.priority}): the request " + (
            " and ".join(why)
        )


@dataclass(frozen=True)
class Verdict:
    agent: str
    rule: str
    chosen: bool
    reason: str


@dataclass(frozen=True)
class RoutingDecision:
    agent: str | None
    """The chosen agent, or ``None``: the request stays in the inbox."""
    rule: str | None
    summary: str
    """One line: who and why, or why nobody."""
    matched: tuple[Match, ...] = ()
    verdicts: tuple[Verdict, ...] = field(default=())

    @property
    def explanation(self) -> str:
        """The whole reasoning, one line per step, for the event log and the CLI."""
        lines = [self.summary]
        lines += [f"matched {m.describe()}" for m in self.matched]
        lines += [
            f"{'chose' if v.chosen else 'skipped'} {v.agent} ({v.rule}): {v.reason}"
            for v in self.verdicts
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "rule": self.rule,
            "summary": self.summary,
            "explanation": self.explanation,
            "matched": [
                {
                    "rule": m.rule.name,
                    "priority": m.rule.priority,
                    "words": list(m.words),
                    "by_kind": m.by_kind,
                }
                for m in self.matched
            ],
            "considered": [
                {"agent": v.agent, "rule": v.rule, "chosen": v.chosen, "reason": v.reason}
                for v in self.verdicts
            ],
        }


def _found(keyword: str, text: str) -> bool:
    # At the start of a word, so "deploy" finds "deployment" but "hr" not "three".
    return re.search(r"(?<![a-z0-9])" + re.escape(keyword.lower()), text) is not None


def matching_rules(request: RoutingRequest, rules: Sequence[Rule]) -> list[Match]:
    """The rules that apply, the winning one first: highest priority, then the later rule."""
    text = f"{request.title}\n{request.text}".lower()
    found = []
    for position, rule in enumerate(rules):
        words = tuple(w for w in rule.keywords if _found(w, text))
        by_kind = request.kind is not None and request.kind in rule.kinds
        if words or by_kind:
            found.append((rule.priority, position, Match(rule, words, by_kind)))
    return [m for _, _, m in sorted(found, key=lambda f: (-f[0], -f[1]))]


def _targets(rule: Rule, candidate: Candidate) -> bool:
    if rule.agent is not None and candidate.name != rule.agent:
        return False
    return rule.role is None or candidate.role == rule.role


def _tasks(n: int) -> str:
    return f"{n} open task" + ("" if n == 1 else "s")


def _choose(
    rule: Rule, request: RoutingRequest, candidates: Sequence[Candidate]
) -> tuple[Candidate | None, list[Verdict]]:
    needed = set(rule.capabilities) | set(request.capabilities)
    fits: list[Candidate] = []
    verdicts: list[Verdict] = []
    for c in candidates:
        if not _targets(rule, c):
            continue
        missing = sorted(needed - c.capabilities)
        if missing:
            verdicts.append(Verdict(c.name, rule.name, False, f"lacks {', '.join(missing)}"))
        elif c.liveness not in _RANK:
            verdicts.append(Verdict(c.name, rule.name, False, f"is {c.liveness}"))
        else:
            fits.append(c)
    fits.sort(key=lambda c: (c.open_tasks, _RANK[c.liveness], c.name))
    if not fits:
        return None, verdicts
    best, others = fits[0], fits[1:]
    held = f"holds {', '.join(sorted(needed))}; " if needed else ""
    what = f"role {best.role}" if rule.agent is None else f"pinned by the rule, role {best.role}"
    reason = f"{what}; {held}{best.liveness}; {_tasks(best.open_tasks)}"
    if others:
        reason += " (the least loaded of " + str(len(fits)) + " that fit)"
    verdicts.insert(0, Verdict(best.name, rule.name, True, reason))
    for c in others:
        why = (
            f"{_tasks(c.open_tasks)}, more than {best.name}'s {best.open_tasks}"
            if c.open_tasks > best.open_tasks
            else f"{c.liveness}; {best.name} ({best.liveness}) comes first"
        )
        verdicts.append(Verdict(c.name, rule.name, False, why))
    return best, verdicts


def route(
    request: RoutingRequest, rules: Sequence[Rule], candidates: Sequence[Candidate]
) -> RoutingDecision:
    """Choose the agent for ``request``; fall through to lower rules when nobody alive fits."""
    matched = matching_rules(request, rules)
    if not matched:
        kind = f" or its kind {request.kind!r}" if request.kind else ""
        return RoutingDecision(
            None,
            None,
            f"no rule matched: none of the {len(rules)} routing rules lists a word of the "
            f"request{kind}; it waits in the inbox for someone to assign it",
        )
    verdicts: list[Verdict] = []
    for match in matched:
        chosen, seen = _choose(match.rule, request, candidates)
        verdicts += seen
        if chosen is not None:
            earlier = [m.rule.name for m in matched[: matched.index(match)]]
            via = f" (nobody alive fits {', '.join(map(repr, earlier))})" if earlier else ""
            return RoutingDecision(
                chosen.name,
                match.rule.name,
                f"routed to {chosen.name} by rule {match.rule.name!r}{via}",
                tuple(matched),
                tuple(verdicts),
            )
    names = ", ".join(repr(m.rule.name) for m in matched)
    if not verdicts:
        why = "no agent has the role these rules name"
    else:
        why = "; ".join(f"{v.agent} {v.reason}" for v in verdicts)
    return RoutingDecision(
        None,
        None,
        f"nobody alive fits: matched {names}, but {why}; it waits in the inbox",
        tuple(matched),
        tuple(verdicts),
    )
