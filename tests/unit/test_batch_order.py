"""fit()'s shuffling, recorded and replayed (probe/batch_order.py), on NumPy's draws, the ones Keras 3 on
JAX and Keras 1 to 2.3 make (TensorFlow's on real environments: tests/e2e/test_e2e_script.py)."""

from __future__ import annotations

import numpy as np
import pytest

from probe import batch_order, overrides
from probe.state import STATE


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    monkeypatch.setattr(STATE, "batch_orders", [])
    yield
    overrides.stop()


def test_each_epochs_permutation_is_recorded_as_drawn_and_the_generator_is_put_back():
    original = np.random.permutation
    np.random.seed(3)
    expected = [np.random.permutation(6).tolist(), np.random.permutation(6).tolist()]  # what fit would draw
    np.random.seed(3)
    with batch_order.watched():
        drawn = [np.random.permutation(6).tolist(), np.random.permutation(6).tolist()]
        assert np.random.permutation([5, 7]).tolist() in ([5, 7], [7, 5])  # data, not indices: not noted
    assert drawn == expected and STATE.batch_orders == expected
    assert np.random.permutation is original
    found = batch_order.facts()
    assert found["batch_orders"] == expected
    assert found["batch_order"]["draws"] == 2 and found["batch_order"]["samples"] == [6]
    assert found["batch_order"]["head"] == expected[0][:5]


def test_a_replayed_order_replaces_the_draw_and_the_stream_moves_on_as_it_would():
    replayed = [[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]]
    overrides.start({"batch_order": replayed})
    np.random.seed(3)
    with batch_order.watched():
        got = [np.random.permutation(6).tolist(), np.random.permutation(6).tolist()]
        after = np.random.rand()
    np.random.seed(3)
    np.random.permutation(6), np.random.permutation(6)
    assert got == replayed and after == np.random.rand()  # two draws consumed, as without the replay
    assert overrides.stop() == ["batch_order"]


def test_the_legacy_in_place_shuffle_of_an_index_array_is_replayed_in_place():
    overrides.start({"batch_order": [[3, 1, 0, 2]]})
    index_array = np.arange(4)
    with batch_order.watched():
        np.random.shuffle(index_array)
        data = np.array([[1.0], [2.0]])
        np.random.shuffle(data)  # rows of data: not an index permutation, left as drawn
    assert index_array.tolist() == [3, 1, 0, 2] and STATE.batch_orders == [[3, 1, 0, 2]]


def test_a_replay_of_another_length_is_not_applied_and_unshuffled_fits_are_not_watched():
    overrides.start({"batch_order": [[1, 0]]})
    with batch_order.watched():
        np.random.permutation(5)
    assert overrides.stop() == [] and len(STATE.batch_orders[0]) == 5
    STATE.batch_orders.clear()
    for shuffle in (False, "batch"):
        with batch_order.watched(shuffle):
            np.random.permutation(4)
    assert STATE.batch_orders == [] and batch_order.facts() == {}


def test_orders_too_large_to_replay_keep_their_checksum_only(monkeypatch):
    monkeypatch.setattr(batch_order, "REPLAYABLE_INDICES", 10)
    with batch_order.watched():
        np.random.permutation(6), np.random.permutation(6)
    found = batch_order.facts()
    assert "batch_orders" not in found and len(found["batch_order"]["sha256"]) == 16
