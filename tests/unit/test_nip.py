import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import nip


def test_parses_the_domain_example():
    parsed = nip.parse("19860926 201505 1 001")
    assert parsed.value == "198609262015051001"
    assert parsed.birth_date == dt.date(1986, 9, 26)
    assert parsed.service_start == dt.date(2015, 5, 1)
    assert parsed.sex == "male"
    assert parsed.serial == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("19860926201505100", "must be 18 digits, got 17"),
        ("1986092620150510011", "must be 18 digits, got 19"),
        ("19860926201505100A", "must contain only digits"),
        ("１９８６０９２６２０１５０５１００１", "must contain only digits"),
        ("198602302015051001", "birth date 19860230 is not a real date"),
        ("198613012015051001", "birth date 19861301 is not a real date"),
        ("198609262015131001", "start of service 201513 is not a real month"),
        ("198609261980051001", "start of service must come after the birth date"),
        ("198609262015053001", "sex digit must be 1 or 2, got 3"),
        ("198609262015050001", "sex digit must be 1 or 2, got 0"),
        ("198609262015051000", "serial must be 001 to 999, got 000"),
    ],
)
def test_rejects_with_a_precise_reason(raw, reason):
    with pytest.raises(nip.InvalidNip) as error:
        nip.parse(raw)
    assert error.value.reason == reason


def test_accepts_dots_and_dashes_between_groups():
    assert nip.parse("19860926.201505.2.999").sex == "female"
    assert nip.parse("19860926-201505-2-999").serial == 999


@st.composite
def valid_nips(draw):
    birth = draw(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2005, 12, 31)))
    start_year = draw(st.integers(min_value=birth.year + 1, max_value=2026))
    month = draw(st.integers(min_value=1, max_value=12))
    sex = draw(st.sampled_from("12"))
    serial = draw(st.integers(min_value=1, max_value=999))
    return f"{birth:%Y%m%d}{start_year:04d}{month:02d}{sex}{serial:03d}"


@given(valid_nips())
def test_every_well_formed_nip_round_trips(value):
    parsed = nip.parse(value)
    assert parsed.value == value
    assert parsed.service_start > parsed.birth_date


@given(st.text(max_size=30))
def test_any_text_is_either_valid_or_refused_with_a_reason(value):
    try:
        parsed = nip.parse(value)
    except nip.InvalidNip as error:
        assert error.reason
    else:
        assert len(parsed.value) == 18 and parsed.value.isdigit()
