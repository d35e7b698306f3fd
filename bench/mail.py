"""Mail triage benchmark: how well the shipped rules (and, with a real key, a model) sort the
labelled sample mailbox, how fast the rules run over a backlog, and what a model would cost.

Phases, each a function returning its figures:

- ``rules_quality``: precision and recall of "needs the operator" and "for Jarvis" over the
  labelled sample (``mcos.mail.sample.messages()``), the shipped rules alone, with the misses
  by template so the reading says where rules fall short.
- ``model_quality``: the same with a real model, only when ANTHROPIC_API_KEY or
  OPENAI_API_KEY is set: the official SDK, ``TRIAGE_GUIDE`` and one ``untrusted()`` block per
  mail, in batches; the model alone, and the model with rules overriding it. Without a key it
  says the measure was not taken. A scripted or simulated provider is never a measure.
- ``throughput``: mail parsed and classified by the rules per second, over a backlog of
  5,000 and a day of 80.
- ``prompt_cost``: the prompt a model would get per mail, in tokens *estimated* as characters
  divided by 4, priced with the project's price table for Donna's model, for a day and for
  the backlog.

    python bench/mail.py [--tiny] [--backlog N] [--day N] [--batch N] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from _machine import machine

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.mail import Category
from mcos.mail.message import MailItem
from mcos.mail.rules import RuleVerdict, classify_by_rules, final_category
from mcos.mail.sample import SAMPLE_RULES, SampleMail, backlog, messages
from mcos.mail.triage import ANSWER_FORMAT, TRIAGE_GUIDE, parse_verdicts, untrusted
from mcos.pricing import price_call

DONNA_MODEL = "claude-sonnet-4-6"
OUTPUT_TOKENS_PER_MAIL = 40
"""A verdict (id, category, topic, a reason of up to 15 words) as JSON: an estimate."""
TARGETS: tuple[Category, ...] = ("operator", "jarvis")


def scores(truth: Sequence[Category], predicted: Sequence[Category | None]) -> dict[str, Any]:
    """Precision and recall of each target category; ``None`` (unclassified) is never a hit."""
    figures: dict[str, Any] = {}
    for target in TARGETS:
        tp = sum(t == target and p == target for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != target and p == target for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == target and p != target for t, p in zip(truth, predicted, strict=True))
        figures[target] = {
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    figures["unclassified"] = sum(p is None for p in predicted)
    figures["agree"] = round(
        sum(t == p for t, p in zip(truth, predicted, strict=True)) / max(1, len(truth)), 3
    )
    return figures


def by_rules(mails: Sequence[SampleMail], items: Sequence[MailItem]) -> list[RuleVerdict | None]:
    return [
        classify_by_rules(SAMPLE_RULES, m.account, i) for m, i in zip(mails, items, strict=True)
    ]


def rules_quality(sample: Sequence[SampleMail], items: Sequence[MailItem]) -> dict[str, Any]:
    verdicts = by_rules(sample, items)
    predicted = [v.category if v else None for v in verdicts]
    truth = [m.label.category for m in sample]
    misses: Counter[str] = Counter()
    for mail, guess in zip(sample, predicted, strict=True):
        if guess != mail.label.category:
            misses[f"{mail.label.template}: {mail.label.category} -> {guess}"] += 1
    topics = [
        (m.label.topic, v.topic)
        for m, v in zip(sample, verdicts, strict=True)
        if m.label.category == "jarvis" and v is not None and v.category == "jarvis"
    ]
    return {
        "messages": len(sample),
        "truth": dict(Counter(truth)),
        **scores(truth, predicted),
        "jarvis_topic_right": f"{sum(a == b for a, b in topics)}/{len(topics)}",
        "misses": dict(misses.most_common()),
    }


def _ask_anthropic(model: str, prompt: str) -> tuple[str, int, int]:
    import anthropic

    answer = anthropic.Anthropic().messages.create(
        model=model,
        max_tokens=4000,
        system=TRIAGE_GUIDE + "\n\n" + ANSWER_FORMAT,
        messages=[{"role": "user", "content": prompt}],
    )
    text = "".join(block.text for block in answer.content if block.type == "text")
    return text, answer.usage.input_tokens, answer.usage.output_tokens


def _ask_openai(model: str, prompt: str) -> tuple[str, int, int]:
    import openai

    answer = openai.OpenAI().chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": TRIAGE_GUIDE + "\n\n" + ANSWER_FORMAT},
            {"role": "user", "content": prompt},
        ],
    )
    usage = answer.usage
    return (
        answer.choices[0].message.content or "",
        usage.prompt_tokens if usage else 0,
        usage.completion_tokens if usage else 0,
    )


def model_quality(
    sample: Sequence[SampleMail], items: Sequence[MailItem], batch: int, model: str | None
) -> dict[str, Any]:
    """Only with a real key; otherwise a record that the measure was not taken, and why."""
    if os.environ.get("ANTHROPIC_API_KEY"):
        provider, ask, model = "anthropic", _ask_anthropic, model or DONNA_MODEL
    elif os.environ.get("OPENAI_API_KEY"):
        provider, ask, model = "openai", _ask_openai, model or "gpt-4.1"
    else:
        return {"taken": False, "why": "neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set"}
    advice: dict[str, Category] = {}
    tokens_in = tokens_out = 0
    started = time.monotonic()
    for start in range(0, len(items), batch):
        blocks = [
            untrusted(item, id=n) for n, item in enumerate(items[start : start + batch], start)
        ]
        text, used_in, used_out = ask(model, "Triage these mails.\n\n" + "\n\n".join(blocks))
        tokens_in, tokens_out = tokens_in + used_in, tokens_out + used_out
        advice.update({v.id: v.category for v in parse_verdicts(text)})
    elapsed = time.monotonic() - started
    truth = [m.label.category for m in sample]
    alone = [advice.get(str(n)) for n in range(len(items))]
    rules = by_rules(sample, items)
    combined = [final_category(a, r) for a, r in zip(alone, rules, strict=True)]
    return {
        "taken": True,
        "provider": provider,
        "model": model,
        "batch": batch,
        "seconds": round(elapsed, 1),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "model_alone": scores(truth, alone),
        "model_with_rules": scores(truth, combined),
    }


def throughput(backlog_mails: Sequence[SampleMail], day: Sequence[SampleMail]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, mails in (("backlog", backlog_mails), ("day", day)):
        started = time.perf_counter()
        items = [m.item() for m in mails]
        parsed = time.perf_counter()
        found = by_rules(mails, items)
        done = time.perf_counter()
        figures[name] = {
            "messages": len(mails),
            "parse_per_s": round(len(mails) / (parsed - started)),
            "rules_per_s": round(len(mails) / (done - parsed)),
            "rules_total_ms": round(1000 * (done - parsed), 1),
            "matched_a_rule": sum(v is not None for v in found),
        }
    return figures


def prompt_cost(
    items: Sequence[MailItem], batch: int, day: int, backlog_size: int
) -> dict[str, Any]:
    """Tokens estimated as characters / 4 (an estimate, not a tokenizer's count)."""
    fleet, problems = check_fleet_text(template_text())
    assert fleet is not None, problems
    per_mail = sum(len(untrusted(i, id=n)) for n, i in enumerate(items)) / 4 / len(items)
    guide = len(TRIAGE_GUIDE + "\n\n" + ANSWER_FORMAT) / 4
    input_per_mail = per_mail + guide / batch

    def cost(n: int) -> Decimal:
        return price_call(
            fleet,
            "anthropic",
            DONNA_MODEL,
            input_tokens=round(input_per_mail * n),
            output_tokens=OUTPUT_TOKENS_PER_MAIL * n,
        )

    return {
        "estimate": "characters / 4",
        "model": DONNA_MODEL,
        "guide_tokens": round(guide),
        "mail_tokens_mean": round(per_mail),
        "input_tokens_per_mail": round(input_per_mail),
        "output_tokens_per_mail": OUTPUT_TOKENS_PER_MAIL,
        "batch": batch,
        "day_messages": day,
        "day_usd": float(round(cost(day), 4)),
        "backlog_messages": backlog_size,
        "backlog_usd": float(round(cost(backlog_size), 2)),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def print_report(figures: dict[str, Any]) -> None:
    rules = figures["rules_quality"]
    print(f"\nlabelled sample: {rules['messages']} messages, truth {rules['truth']}")
    print(
        f"{'measure':<22}{'category':<10}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}"
    )
    rows = [("rules alone", rules)]
    model = figures["model_quality"]
    if model["taken"]:
        rows += [
            ("model alone", model["model_alone"]),
            ("model + rules", model["model_with_rules"]),
        ]
    for name, found in rows:
        for target in TARGETS:
            f = found[target]
            print(
                f"{name:<22}{target:<10}{_pct(f['precision']):>10}{_pct(f['recall']):>8}"
                f"{f['tp']:>5}{f['fp']:>5}{f['fn']:>5}"
            )
    print(
        f"rules alone: {rules['unclassified']} unclassified, {_pct(rules['agree'])} same "
        f"category as the label, Jarvis topic right {rules['jarvis_topic_right']}"
    )
    if not model["taken"]:
        print(f"model measure NOT taken: {model['why']}")
    print("rules' misses (template: truth -> rules):")
    for miss, n in list(rules["misses"].items())[:12]:
        print(f"  {n:>3}  {miss}")
    for name, t in figures["throughput"].items():
        print(
            f"throughput, {name} of {t['messages']}: parse {t['parse_per_s']:,}/s, rules "
            f"{t['rules_per_s']:,}/s ({t['rules_total_ms']} ms), "
            f"{t['matched_a_rule']} matched a rule"
        )
    c = figures["prompt_cost"]
    print(
        f"prompt per mail (ESTIMATE, chars/4): {c['mail_tokens_mean']} tokens of mail + "
        f"{c['guide_tokens']} of guide per batch of {c['batch']} = {c['input_tokens_per_mail']} "
        f"in, ~{c['output_tokens_per_mail']} out; {c['model']}: a day of {c['day_messages']} "
        f"${c['day_usd']}, a backlog of {c['backlog_messages']:,} ${c['backlog_usd']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A few messages: a smoke run.")
    parser.add_argument("--backlog", type=int, help="Backlog size (default 5,000).")
    parser.add_argument("--day", type=int, default=80, help="A day's mail (default 80).")
    parser.add_argument("--batch", type=int, default=10, help="Mails per model call.")
    parser.add_argument("--model", help="Model for the model measure (default per provider).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    size = args.backlog or (200 if args.tiny else 5_000)
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
        f"load average at start {info['load_average_at_start']}"
    )
    sample = messages()[:30] if args.tiny else messages()
    items = [m.item() for m in sample]
    figures = {
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "rules_quality": rules_quality(sample, items),
        "model_quality": model_quality(sample, items, args.batch, args.model),
        "throughput": throughput(backlog(size, seed=1), backlog(args.day, seed=2)),
        "prompt_cost": prompt_cost(items, args.batch, args.day, size),
    }
    print_report(figures)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    sys.exit(main())
