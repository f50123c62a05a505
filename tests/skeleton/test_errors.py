"""Domain errors kept and raised again (a damaged city, a refused alert policy)."""

from __future__ import annotations

import traceback

import pytest

from lifechain.errors import DomainError, Invalid, Unavailable


def _depth(exc: BaseException) -> int:
    return len(traceback.extract_tb(exc.__traceback__))


def test_a_remembered_error_raised_again_keeps_its_kind_and_detail_and_a_short_traceback() -> None:
    remembered = Unavailable("city x: nodes.npy is cut short; import the city again", city="x")

    def ask() -> None:
        raise remembered.again()

    depths = []
    for _ in range(3):
        with pytest.raises(Unavailable) as caught:
            ask()
        assert caught.value is not remembered
        assert (caught.value.message, caught.value.detail, caught.value.status_code) == (
            remembered.message, {"city": "x"}, 503)
        depths.append(_depth(caught.value))
    assert depths[0] == depths[-1]  # the one object raised each time would carry every earlier raise's frames too
    assert remembered.__traceback__ is None


def test_raised_again_with_a_message_says_where() -> None:
    err: DomainError = Invalid("seed: must be 0 or more", field="seed")
    again = err.again(f"variant: {err.message}")
    assert type(again) is Invalid
    assert (again.message, again.detail) == ("variant: seed: must be 0 or more", {"field": "seed"})
    assert err.message == "seed: must be 0 or more"
