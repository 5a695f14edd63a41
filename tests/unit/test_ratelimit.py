"""The public endpoints' rate limit: a token bucket per endpoint group and client; time is an input."""

from hypothesis import given
from hypothesis import strategies as st

from shared.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_429_with_the_seconds_until_the_next_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=6, burst=3, clock=clock)  # one token every 10 s
    assert [limiter.check("complaint", "1.2.3.4").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.check("complaint", "1.2.3.4")
    assert refused.retry_after == 10
    clock.now = 9.5
    assert limiter.check("complaint", "1.2.3.4").retry_after == 1
    clock.now = 10.0
    assert limiter.check("complaint", "1.2.3.4").allowed


def test_other_clients_and_other_endpoints_are_not_slowed_down():
    limiter = RateLimiter(rate_per_minute=1, burst=1, clock=Clock())
    assert limiter.check("complaint", "1.2.3.4").allowed
    assert not limiter.check("complaint", "1.2.3.4").allowed
    assert limiter.check("complaint", "5.6.7.8").allowed
    assert limiter.check("report", "1.2.3.4").allowed


@given(st.lists(st.floats(min_value=0, max_value=1000), max_size=200), st.integers(1, 20), st.integers(1, 600))
def test_never_more_than_the_burst_plus_the_refill(times, burst, rate):
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=rate, burst=burst, clock=clock)
    passed = 0
    for moment in sorted(times):
        clock.now = moment
        passed += limiter.check("g", "c").allowed
    span = (max(times) if times else 0.0)
    assert passed <= burst + span * rate / 60 + 1e-6


def test_memory_stays_bounded_under_many_addresses():
    limiter = RateLimiter(rate_per_minute=1, burst=1, max_clients=100, clock=Clock())
    for index in range(1000):
        limiter.check("complaint", f"10.0.{index // 256}.{index % 256}")
    assert len(limiter) == 100


def test_peek_tells_whether_a_client_is_over_budget_without_spending_any():
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=6, burst=2, clock=clock)  # one token every 10 s
    assert all(limiter.peek("token", "1.2.3.4").allowed for _ in range(5))
    limiter.check("token", "1.2.3.4")
    limiter.check("token", "1.2.3.4")
    refused = limiter.peek("token", "1.2.3.4")
    assert not refused.allowed and refused.retry_after == 10
    assert limiter.peek("token", "5.6.7.8").allowed
    clock.now = 10.0
    assert limiter.peek("token", "1.2.3.4").allowed
