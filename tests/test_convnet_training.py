"""Side-by-side SGD on scikit-learn's 8x8 digits: NumPy SimpleConvNet vs its PyTorch twin."""

from __future__ import annotations

import pytest
from layercheck.impl.convnet import SimpleConvNet
from layercheck.reference.training import TrainingRun, digits, train_side_by_side

STEPS = 200


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    net = SimpleConvNet((1, 8, 8), {"filter_num": 16, "filter_size": 5, "pad": 2, "stride": 1},
                        50, 10, 0.1, rng=0)
    return train_side_by_side(net, digits(), steps=STEPS, batch_size=32, lr=0.1, seed=0)


def test_every_step_within_bound_of_float64_truth(run: TrainingRun) -> None:
    """Loss and all gradients at each step's NumPy weights, against the float64 twin."""
    assert len(run.step_err_over_bound) == STEPS
    assert max(run.step_err_over_bound) <= 1


def test_loss_curves_agree_step_by_step(run: TrainingRun) -> None:
    """The independently trained twin's loss curve: the gap is rounding plus measured drift."""
    assert len(run.loss_np) == len(run.loss_twin) == STEPS
    assert max(run.curve_err_over_bound) <= 1


def test_training_learns_digits(run: TrainingRun) -> None:
    assert run.loss_np[-1] < run.loss_np[0] / 4
    assert run.test_accuracy > 0.9  # chance is 0.1
    assert run.twin_test_accuracy == run.test_accuracy
    assert (run.filters_before != run.filters_after).all()
