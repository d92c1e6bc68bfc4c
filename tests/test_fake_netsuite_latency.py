"""The fake NetSuite answers as fast as it is told to: without it, every latency the tests and
`make bench` measure would carry a stall of the fake's own."""

from __future__ import annotations

import statistics
import time

import requests

from tests.fake_netsuite import FakeNetSuite


def test_a_keep_alive_answer_is_not_held_back_by_nagle():
    """GIVEN one keep-alive connection WHEN it asks ten times THEN each answer comes in well
    under the ~40 ms a delayed ACK costs when headers and body leave in separate writes."""
    with FakeNetSuite() as fake, requests.Session() as session:
        session.post(fake.token_url, data={"grant_type": "client_credentials"}, timeout=5)
        took = []
        for _ in range(10):
            started = time.perf_counter()
            session.post(fake.token_url, data={"grant_type": "client_credentials"}, timeout=5)
            took.append(time.perf_counter() - started)

    assert statistics.median(took) < 0.02, took
