"""The context "fuel gauge": the latest prompt's tokens over the model's context window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContextGauge:
    tokens: int
    """Tokens in the latest prompt (not cumulative usage)."""
    window: int
    """The model's context window."""
    flush_line: int
    """``window - reserve_floor - soft_threshold``: the memory flush must happen before this."""

    @property
    def fraction(self) -> float:
        return min(self.tokens / self.window, 1.0) if self.window else 0.0

    @property
    def past_flush_line(self) -> bool:
        return self.tokens >= self.flush_line

    def as_dict(self) -> dict[str, int | float | bool]:
        return {
            "tokens": self.tokens,
            "window": self.window,
            "flush_line": self.flush_line,
            "fraction": round(self.fraction, 4),
            "past_flush_line": self.past_flush_line,
        }
