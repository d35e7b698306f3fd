"""Prices come from the maintained table; our token counts are split the way prices are."""

from __future__ import annotations

from decimal import Decimal

from genai_prices import Usage, calc_price

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.pricing import price_call


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
