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
- ``pipeline``: the real path (``_mail_pipeline.py``): the sample, then a day, then the backlog
  delivered to a private Dovecot, read by the runner's ``Mailboxes`` into ``mcos serve`` on
  SQLite, which applies the fleet's rules on arrival; mails/s, batch-report latency, the
  digest, the server's memory; the rules' precision and recall from what was stored, beside
  the direct measure; and the tokens a model would cost for the mail the rules left (estimated).

    python bench/mail.py [--tiny] [--only PHASES] [--backlog N] [--day N] [--batch N]
                         [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
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
from _mail_pipeline import run_pipeline

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
PHASES = ("rules", "model", "throughput", "cost", "pipeline")


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


def model_estimate(rendered: Sequence[int], messages: int, batch: int) -> dict[str, Any]:
    """What a model would cost for the mail the rules left: ``rendered`` holds the length of
    ``untrusted()`` for each such stored mail. Tokens estimated as characters / 4."""
    fleet, problems = check_fleet_text(template_text())
    assert fleet is not None, problems
    donna = fleet.agent("donna")
    assert donna is not None, "the template's fleet has Donna"
    guide = len(TRIAGE_GUIDE + "\n\n" + ANSWER_FORMAT) / 4
    calls = math.ceil(len(rendered) / batch)
    input_tokens = round(sum(rendered) / 4 + guide * calls)
    output_tokens = OUTPUT_TOKENS_PER_MAIL * len(rendered)
    usd = price_call(
        fleet, donna.provider, donna.model, input_tokens=input_tokens, output_tokens=output_tokens
    )
    return {
        "estimate": "characters / 4",
        "model": donna.model,
        "messages": messages,
        "to_the_model": len(rendered),
        "calls": calls,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "usd": float(round(usd, 4)),
    }


def pipeline(
    sample: Sequence[SampleMail],
    items: Sequence[MailItem],
    day: Sequence[SampleMail],
    backlog_mails: Sequence[SampleMail],
    batch: int,
) -> dict[str, Any]:
    """The real path end to end; the rules' quality from what the control plane stored, beside
    the direct measure over the same sample (a difference means the IMAP parse changed what
    a rule sees); the model's cost for what the rules left, estimated."""
    found = run_pipeline([("sample", sample), ("day", day), ("backlog", backlog_mails)])
    if not found["taken"]:
        return found
    stored = found["sample"].pop("stored_verdicts")
    truth = [m.label.category for m in sample]
    direct = [v.category if v else None for v in by_rules(sample, items)]
    via_imap = [stored.get(i.message_id, "not stored") for i in items]
    differences = [
        f"{m.label.template}: {i.subject[:60]!r}: direct {d}, stored {s}"
        for m, i, d, s in zip(sample, items, direct, via_imap, strict=True)
        if d != s
    ]
    found["quality"] = {
        "direct": scores(truth, direct),
        "via_imap": scores(truth, [None if s == "not stored" else s for s in via_imap]),
        "same_verdicts": not differences,
        "differences": differences[:20],
        "different": len(differences),
    }
    for name in ("sample", "day", "backlog"):
        rendered = found[name].pop("unclassified_rendered_chars")
        found[name]["model_estimate"] = model_estimate(rendered, found[name]["stored"], batch)
    return found


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def print_pipeline(p: dict[str, Any]) -> None:
    if not p["taken"]:
        print(f"real pipeline NOT measured: {p['why']}")
        return
    print(
        f"\nreal pipeline: Dovecot -> Mailboxes.sync (IMAP) -> mcos serve (SQLite, rules on "
        f"arrival) -> digest; setup {p['setup_s']} s"
    )
    print(
        f"{'load':<9}{'mails':>6}{'total s':>9}{'mails/s':>9}{'imap s':>8}{'ingest s':>9}"
        f"{'batch p50':>10}{'p99 ms':>8}{'digest ms':>10}{'srv CPU ms/mail':>16}"
        f"{'run CPU ms/mail':>16}{'srv RSS/peak MiB':>17}"
    )
    for name in ("sample", "day", "backlog"):
        f = p[name]
        memory = f"{f['server_memory']['rss_mib']:.0f}/{f['server_memory']['peak_rss_mib']:.0f}"
        print(
            f"{name:<9}{f['stored']:>6}{f['seconds']:>9}{f['mails_per_s']:>9}"
            f"{f['imap_fetch_s']:>8}{f['ingest_s']:>9}{f['batch_report_p50_ms']:>10}"
            f"{f['batch_report_p99_ms']:>8}{f['digest_ms']:>10}{f['mcos_cpu_ms_per_mail']:>16}"
            f"{f['runner_cpu_ms_per_mail']:>16}{memory:>17}"
        )
    for name in ("sample", "day", "backlog"):
        f = p[name]
        print(
            f"  {name}: batch latency over {f['latency_of']}; {f['by_rules']} classified by "
            f"rules on arrival ({f['flagged_to_jarvis']} flagged to Jarvis, {f['legal_tasks']} "
            f"legal tasks); server CPU {f['mcos_cpu_pct']}%, runner {f['runner_cpu_pct']}%, "
            f"machine busy {f['machine_busy_pct']}%"
        )
    q = p["quality"]
    for label, found in (("rules, direct", q["direct"]), ("rules, via IMAP", q["via_imap"])):
        print(
            f"{label:<22}"
            + "  ".join(
                f"{t} P {_pct(found[t]['precision'])} R {_pct(found[t]['recall'])}" for t in TARGETS
            )
            + f"  ({found['unclassified']} unclassified)"
        )
    if q["same_verdicts"]:
        print("via IMAP = direct: the IMAP parse leaves every rule's verdict as it was")
    else:
        print(f"via IMAP DIFFERS from direct on {q['different']} mail (the IMAP parse changed it):")
        for line in q["differences"]:
            print(f"  {line}")
    for name in ("day", "backlog"):
        e = p[name]["model_estimate"]
        print(
            f"model for what the rules left (ESTIMATE, chars/4), {name}: {e['to_the_model']} of "
            f"{e['messages']} mails, {e['calls']} calls, {e['input_tokens']:,} in + "
            f"{e['output_tokens']:,} out tokens, {e['model']} ${e['usd']}"
        )


def print_report(figures: dict[str, Any]) -> None:
    if "rules_quality" in figures:
        print_rules(figures)
    for name, t in figures.get("throughput", {}).items():
        print(
            f"throughput, {name} of {t['messages']}: parse {t['parse_per_s']:,}/s, rules "
            f"{t['rules_per_s']:,}/s ({t['rules_total_ms']} ms), "
            f"{t['matched_a_rule']} matched a rule"
        )
    if "prompt_cost" in figures:
        c = figures["prompt_cost"]
        print(
            f"prompt per mail (ESTIMATE, chars/4): {c['mail_tokens_mean']} tokens of mail + "
            f"{c['guide_tokens']} of guide per batch of {c['batch']} = "
            f"{c['input_tokens_per_mail']} in, ~{c['output_tokens_per_mail']} out; {c['model']}: "
            f"a day of {c['day_messages']} ${c['day_usd']}, a backlog of "
            f"{c['backlog_messages']:,} ${c['backlog_usd']}"
        )
    if "pipeline" in figures:
        print_pipeline(figures["pipeline"])


def print_rules(figures: dict[str, Any]) -> None:
    rules = figures["rules_quality"]
    print(f"\nlabelled sample: {rules['messages']} messages, truth {rules['truth']}")
    print(
        f"{'measure':<22}{'category':<10}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}"
    )
    rows = [("rules alone", rules)]
    model = figures.get("model_quality", {"taken": False, "why": "not selected (--only)"})
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A few messages: a smoke run.")
    parser.add_argument("--backlog", type=int, help="Backlog size (default 5,000).")
    parser.add_argument("--day", type=int, default=80, help="A day's mail (default 80).")
    parser.add_argument("--batch", type=int, default=10, help="Mails per model call.")
    parser.add_argument("--model", help="Model for the model measure (default per provider).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    parser.add_argument("--only", help=f"Comma-separated phases of {','.join(PHASES)} (all).")
    args = parser.parse_args()
    only = set((args.only or ",".join(PHASES)).split(","))
    if only - set(PHASES):
        parser.error(f"--only {args.only!r}: the phases are {', '.join(PHASES)}")
    size = args.backlog or (200 if args.tiny else 5_000)
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
        f"load average at start {info['load_average_at_start']}"
    )
    sample = messages()[:30] if args.tiny else messages()
    items = [m.item() for m in sample]
    figures: dict[str, Any] = {
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
    }
    if "rules" in only:
        figures["rules_quality"] = rules_quality(sample, items)
    if "model" in only:
        figures["model_quality"] = model_quality(sample, items, args.batch, args.model)
    if only & {"throughput", "pipeline"}:
        backlog_mails, day = backlog(size, seed=1), backlog(args.day, seed=2)
        if "throughput" in only:
            figures["throughput"] = throughput(backlog_mails, day)
        if "pipeline" in only:
            figures["pipeline"] = pipeline(sample, items, day, backlog_mails, args.batch)
    if "cost" in only:
        figures["prompt_cost"] = prompt_cost(items, args.batch, args.day, size)
    print_report(figures)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    sys.exit(main())
