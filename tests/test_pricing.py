"""Prices come from the maintained table; our token counts are split the way prices are."""

from __future__ import annotations

import random
from decimal import Decimal

from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.pricing import _by_table, price_call


def test_cached_tokens_are_priced_at_their_own_rates_on_top_of_uncached_input() -> None:
    fleet, _ = check_fleet_text(template_text())
    assert fleet is not None
    ours = price_call(
        fleet,
        "anthropic",
        "claude-sonnet-4-6",
        input_tokens=100,
        output_tokens=50,
        cache_read_tokens=10_000,
        cache_write_tokens=2_000,
    )
    # genai-prices counts cached tokens inside input_tokens.
    table = calc_price(
        Usage(
            input_tokens=12_100,
            output_tokens=50,
            cache_read_tokens=10_000,
            cache_write_tokens=2_000,
        ),
        model_ref="claude-sonnet-4-6",
        provider_id="anthropic",
    ).total_price
    assert ours == Decimal(table)
    uncached = price_call(
        fleet, "anthropic", "claude-sonnet-4-6", input_tokens=12_100, output_tokens=50
    )
    assert ours < uncached  # reading from the cache is what prompt caching saves


def test_the_fast_token_rates_give_the_tables_own_figure() -> None:
    """OTLP ingest prices by rates (calc_price is ~1 ms a call); on every shape of price in the
    table the two agree to the last digit, or the rates are not used."""
    fleet, _ = check_fleet_text(template_text())
    assert fleet is not None
    pick = random.Random(15)
    models = [(p.id, m.id) for p in get_snapshot().providers for m in p.models][::7]
    compared = 0
    for provider, model in models:
        calls = [
            (pick.randrange(0, 300_000), pick.randrange(0, 5_000), pick.randrange(0, 50_000), 0)
            for _ in range(3)
        ] + [(1, 1, 0, pick.randrange(0, 5_000))]
        for tokens in calls:
            try:
                table = _by_table(provider, model, *tokens)
            except Exception:
                continue  # a model whose price needs more than tokens
            ours = price_call(
                fleet,
                provider,
                model,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cache_read_tokens=tokens[2],
                cache_write_tokens=tokens[3],
            )
            assert ours == table, (provider, model, tokens)
            compared += 1
    assert compared > 500, "the comparison covered the table"
