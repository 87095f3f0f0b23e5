"""The probe's NumPy oracle recomputes what the classifier should report from its final weights."""

import numpy as np
import pytest

from probe import oracle, tasks


def test_losses_recomputed_from_final_weights_match_an_independent_probability_form():
    weights = tasks.shared_classifier_weights()
    x, y, x_val, y_val = tasks.classifier_data()

    def by_hand(inputs, targets):
        hidden = np.maximum(inputs.astype("float64").dot(weights[0]) + weights[1], 0)
        probability = 1 / (1 + np.exp(-(hidden.dot(weights[2]) + weights[3])))
        loss = -np.mean(targets * np.log(probability) + (1 - targets) * np.log(1 - probability))
        return loss, np.mean((probability > 0.5) == (targets > 0.5))

    recomputed = oracle.recompute("classifier.shared_init", [array.tolist() for array in weights])
    assert recomputed["classifier.shared_init.evaluate_loss"] == pytest.approx(by_hand(x, y)[0], rel=1e-12)
    assert recomputed["classifier.shared_init.val_loss"] == pytest.approx(by_hand(x_val, y_val)[0], rel=1e-12)
    assert recomputed["classifier.shared_init.val_accuracy"] == pytest.approx(by_hand(x_val, y_val)[1])


def test_nothing_is_recomputed_where_the_oracle_cannot():
    assert oracle.recompute("example.gru_classifier.defaults", [[0.0]]) == {}
    assert oracle.recompute("classifier.defaults", None) == {}
