"""The cost of an LLM call, from the maintained price table (genai-prices) or the fleet file.

genai-prices ships its table in the package, so pricing works offline; it is never asked to
update itself at run time. A model it does not know needs a ``[prices."MODEL"]`` table in the
fleet file, which ``mcos fleet check`` asks for; the simulated provider costs nothing.
"""

from __future__ import annotations

from decimal import Decimal

from genai_prices import Usage, calc_price

from mcos.fleet.schema import Fleet

MILLION = Decimal(1_000_000)


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
    # genai-prices counts cached tokens inside input_tokens; ours are the uncached ones only.
    usage = Usage(
        input_tokens=input_tokens + cache_read_tokens + cache_write_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    try:
        return Decimal(calc_price(usage, model_ref=model, provider_id=provider).total_price)
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
