"""The cost of an LLM call, from the maintained price table (genai-prices) or the fleet file.

genai-prices ships its table in the package, so pricing works offline; it is never asked to
update itself at run time. A model it does not know needs a ``[prices."MODEL"]`` table in the
fleet file, which ``mcos fleet check`` asks for; the simulated provider costs nothing.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import TieredPrices

from mcos.fleet.schema import Fleet

MILLION = Decimal(1_000_000)


TOKEN_RATES = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
PROBES = ((1_000, 100, 0, 0), (700, 300, 5_000, 2_000), (250_000, 1_000, 40_000, 10_000))
"""Calls (input, output, cache read, cache write) on which the rates must give calc_price's
figure before they are trusted: below and above the usual 200k-token tier."""

Rates = dict[str, Decimal | TieredPrices]


@functools.lru_cache(maxsize=1_024)
def token_rates(provider: str, model: str, day: date) -> Rates | None:
    """The model's per-million token rates on ``day``, when a sum of tokens times rates gives
    exactly what ``calc_price`` gives, else None.

    ``calc_price`` takes about a millisecond a call (it resolves units, validates and
    decomposes the usage each time); OTLP ingest prices thousands of calls a second. The rates
    are checked against it on :data:`PROBES` once per model and day, so a price shape they do
    not capture (a per-request fee, say) keeps the slow, exact path.
    """
    try:
        _, info = get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    prices = info.get_prices(at)
    rates: Rates = {
        key: value
        for key in TOKEN_RATES
        if isinstance(value := getattr(prices, key, None), Decimal | TieredPrices)
    }
    for probe in PROBES:
        if _by_rates(rates, *probe) != _by_table(provider, model, *probe):
            return None
    return rates


def _rate(price: Decimal | TieredPrices, total_input: int) -> Decimal:
    if isinstance(price, Decimal):
        return price
    for tier in reversed(price.tiers):  # as genai-prices: the highest tier passed applies
        if total_input > tier.start:
            return tier.price
    return price.base


def _by_rates(
    rates: Rates, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> Decimal:
    total_input = input_tokens + cache_read + cache_write
    total = Decimal(0)
    for key, tokens in zip(
        TOKEN_RATES, (input_tokens, output_tokens, cache_read, cache_write), strict=True
    ):
        if tokens and key in rates:
            total += _rate(rates[key], total_input) * tokens
        elif tokens and key.startswith("cache"):
            total += _rate(rates.get("input_mtok", Decimal(0)), total_input) * tokens
    return total / MILLION


def _by_table(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
) -> Decimal:
    # genai-prices counts cached tokens inside input_tokens; ours are the uncached ones only.
    usage = Usage(
        input_tokens=input_tokens + cache_read_tokens + cache_write_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    return Decimal(calc_price(usage, model_ref=model, provider_id=provider).total_price)


class UnknownModelPrice(LookupError):
    pass


def price_call(
    fleet: Fleet,
    provider: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> Decimal:
    """USD for one call; raises :class:`UnknownModelPrice` if neither source knows the model."""
    override = fleet.prices.get(model)
    if override is not None:
        return (
            Decimal(str(override.input_per_mtok)) * input_tokens
            + Decimal(str(override.output_per_mtok)) * output_tokens
            + Decimal(str(override.cache_read_per_mtok)) * cache_read_tokens
            + Decimal(str(override.cache_write_per_mtok)) * cache_write_tokens
        ) / MILLION
    if provider == "simulated":
        return Decimal(0)
    rates = token_rates(provider, model, datetime.now(UTC).date())
    if rates is not None:
        return _by_rates(rates, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    try:
        return _by_table(
            provider,
            model,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
        )
    except LookupError:
        raise UnknownModelPrice(
            f"the price table does not know {provider} model {model!r}"
        ) from None


def priceable(fleet: Fleet, provider: str, model: str) -> bool:
    try:
        price_call(fleet, provider, model, input_tokens=1, output_tokens=1)
    except UnknownModelPrice:
        return False
    return True
