"""Train a notes-style net and its PyTorch twin side by side on scikit-learn's 8x8 digits.

Both start from the same weights, see the same mini-batches and take plain SGD steps in
float64. Two checks per step:

* step agreement: the NumPy loss and gradients at the NumPy net's current weights against
  the float64 truth at those weights, as err_over_bound (reference.convnet.net_truth);
* curve agreement: the NumPy loss curve against the twin's own, independently trained,
  curve. Their gap is the step's rounding bound plus what the weight drift between the
  two runs explains to first order, SAFETY * sum |dL/dtheta| * |theta_np - theta_twin|
  (the drift is measured, not predicted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from reference.bounds import SAFETY
from reference.convnet import agreement, load_twin, net_truth, one_thread, twin, twin_grads


@dataclass
class Digits:
    """8x8 digits scaled to [0, 1], shape (N, 1, 8, 8), split into train and test."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def digits(test_size: int = 360, seed: int = 0) -> Digits:
    """scikit-learn's bundled digits (1797 images, no download), shuffled with `seed`."""
    d = load_digits()
    x = (d.images / 16.0).astype(np.float64)[:, None]
    t = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, t = x[order], t[order]
    return Digits(x[test_size:], t[test_size:], x[:test_size], t[:test_size])


@dataclass
class TrainingRun:
    """Per-step losses of both runs, agreement figures, accuracies and first filters."""

    loss_np: list[float] = field(default_factory=list)
    loss_twin: list[float] = field(default_factory=list)
    step_err_over_bound: list[float] = field(default_factory=list)
    curve_err_over_bound: list[float] = field(default_factory=list)
    ambiguous: int = 0
    test_accuracy: float = 0.0
    twin_test_accuracy: float = 0.0
    train_accuracy: float = 0.0
    filters_before: np.ndarray | None = None
    filters_after: np.ndarray | None = None

    @property
    def max_rel_diff(self) -> float:
        """Largest |loss_np - loss_twin| / |loss_twin| over the steps."""
        a, b = np.asarray(self.loss_np), np.asarray(self.loss_twin)
        return float(np.max(np.abs(a - b) / np.abs(b)))


@one_thread()
def train_side_by_side(net, data: Digits, steps: int = 200, batch_size: int = 32,
                       lr: float = 0.1, seed: int = 0) -> TrainingRun:
    """SGD on `net` (float64, changed in place) and on its twin, same batches."""
    if np.dtype(net.params["W1"].dtype) != np.float64:
        raise ValueError("side-by-side training compares float64 runs")
    model, names = twin(net)
    check, _ = twin(net)
    run = TrainingRun(filters_before=net.params["W1"].copy())
    rng = np.random.default_rng(seed)
    ce = nn.CrossEntropyLoss()
    for _ in range(steps):
        idx = rng.choice(len(data.x_train), batch_size, replace=False)
        xb, tb = data.x_train[idx], data.t_train[idx]
        grads = net.gradient(xb, tb)
        loss_np = float(net.last_layer.loss)
        load_twin(check, names, net.params)
        truth = net_truth(check, names, xb, tb, "f64")
        ag = agreement(truth, loss_np, grads)
        run.ambiguous += ag.ambiguous
        run.step_err_over_bound.append(ag.worst)

        model.zero_grad()
        loss_t = ce(model(torch.from_numpy(xb)), torch.from_numpy(tb))
        loss_t.backward()
        tg = twin_grads(model, names)
        theta = {k: v.detach().numpy() for k, v in _named(model, names).items()}
        drift = sum(float(np.sum(np.abs(tg[k]) * np.abs(net.params[k] - theta[k])))
                    for k in tg)
        gap = abs(loss_np - loss_t.item())
        allowed = float(truth.loss.bound) + SAFETY * drift
        run.curve_err_over_bound.append(0.0 if gap == 0 else gap / allowed)
        run.loss_np.append(loss_np)
        run.loss_twin.append(loss_t.item())

        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        for k in net.params:
            net.params[k] -= lr * grads[k]
    run.filters_after = net.params["W1"].copy()
    run.train_accuracy = net.accuracy(data.x_train, data.t_train)
    run.test_accuracy = net.accuracy(data.x_test, data.t_test)
    with torch.no_grad():
        scores = model(torch.from_numpy(data.x_test)).numpy()
    run.twin_test_accuracy = float(np.mean(scores.argmax(axis=1) == data.t_test))
    return run


def _named(model: nn.Sequential, names) -> dict[str, torch.Tensor]:
    """The twin's parameters under the notes' names and layout (Linear weight as W)."""
    out = {}
    for i, (wk, bk) in names.items():
        m = model[i]
        out[wk] = m.weight.T if isinstance(m, nn.Linear) else m.weight
        out[bk] = m.bias
    return out
