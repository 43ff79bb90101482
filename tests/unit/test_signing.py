"""The webhook's signatures (policy/signing.py): a request signed now is taken; changing any byte of its
body, its moment or its signature, or sending it outside the 5 minutes either side of the receiver's clock,
is refused with a 401 in one line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.signing import SIGNATURE, SIGNATURE_T, TIMESTAMP, WINDOW_SECONDS, Refused, check, signed_headers

SECRET = b"shared"
NOW = 1_795_000_000


@given(body=st.binary(max_size=300), offset=st.integers(-WINDOW_SECONDS, WINDOW_SECONDS))
def test_a_request_signed_within_the_window_is_taken(body, offset):
    headers = signed_headers(SECRET, body, NOW + offset)
    assert check(SECRET, body, headers[TIMESTAMP], headers[SIGNATURE_T], NOW) == NOW + offset


@given(body=st.binary(min_size=1, max_size=300), position=st.integers(0, 299), shift=st.integers(1, 255),
       moved=st.integers(1, 10_000))
def test_any_byte_or_moment_changed_is_refused(body, position, shift, moved):
    headers = signed_headers(SECRET, body, NOW)
    changed = bytearray(body)
    changed[position % len(body)] = (changed[position % len(body)] + shift) % 256
    for other_body, stamp in ((bytes(changed), headers[TIMESTAMP]), (body, str(NOW - moved))):
        with pytest.raises(Refused) as refused:
            check(SECRET, other_body, stamp, headers[SIGNATURE_T], NOW)
        assert refused.value.status == 401 and "\n" not in str(refused.value)


@given(late=st.integers(WINDOW_SECONDS + 1, 10**9))
def test_a_request_signed_too_long_ago_or_ahead_is_refused(late):
    for moment, words in ((NOW - late, "ago"), (NOW + late, "ahead")):
        headers = signed_headers(SECRET, b"{}", moment)
        with pytest.raises(Refused, match=words):
            check(SECRET, b"{}", headers[TIMESTAMP], headers[SIGNATURE_T], NOW)


@pytest.mark.parametrize("stamp, signed", [(None, None), ("", "sha256=00"), ("12.5", None), ("-1", "x"),
                                           ("１２３", "sha256=00"), (str(NOW), "sha256=" + "0" * 64)])
def test_a_missing_or_malformed_signature_is_refused(stamp, signed):
    with pytest.raises(Refused) as refused:
        check(SECRET, b"{}", stamp, signed, NOW)
    assert refused.value.status == 401


def test_the_body_signature_of_earlier_releases_is_kept_as_it_was():
    import hashlib
    import hmac

    assert signed_headers(SECRET, b"{}", NOW)[SIGNATURE] == "sha256=" + hmac.new(SECRET, b"{}", hashlib.sha256).hexdigest()
