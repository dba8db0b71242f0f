"""Train a notes-style net and its PyTorch twin side by side on scikit-learn's 8x8 digits.

Both start from the same weights, see the same mini-batches and take plain SGD steps in
float64; where the net has dropout, the twin uses the masks the NumPy net drew in that
step (layercheck.reference.convnet.load_state); where it has batch norm, the check twin starts each
step from the NumPy net's running statistics. Two checks per step:

* step agreement: the NumPy loss and gradients at the NumPy net's current weights against
  the float64 truth at those weights, as err_over_bound (layercheck.reference.convnet.net_truth);
* curve agreement: the NumPy loss curve against the twin's own, independently trained,
  curve. Their gap is the step's rounding bound plus what the weight drift between the
  two runs explains to first order, SAFETY * sum |dL/dtheta| * |theta_np - theta_twin|
  (the drift is measured, not predicted).

With batch norm, step agreement also covers the running statistics after the step; with
dropout or batch norm, every `eval_every` steps the test-mode loss and gradients (running
statistics, dropout's test scaling) are checked the same way, as `eval_err_over_bound`.
`digits32` is the same data upscaled (bilinear) to 32x32 and copied to 3 channels, for
the AlexNet-style net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from layercheck.reference.bounds import SAFETY
from layercheck.reference.convnet import (
    agreement,
    load_state,
    load_twin,
    net_truth,
    one_thread,
    running_stats,
    twin,
    twin_grads,
)
from sklearn.datasets import load_digits
from torch import nn


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


def digits32(test_size: int = 360, seed: int = 0) -> Digits:
    """The digits upscaled bilinearly to 32x32 and repeated on 3 channels: (N, 3, 32, 32)."""
    d = digits(test_size, seed)

    def up(x: np.ndarray) -> np.ndarray:
        # 8 pixel centres -> 32: sample positions (i + 0.5) / 4 - 0.5, clamped at the edges
        pos = np.clip((np.arange(32) + 0.5) / 4 - 0.5, 0, 7)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, 7)
        w = pos - lo
        rows = x[..., lo, :] * (1 - w)[:, None] + x[..., hi, :] * w[:, None]
        out = rows[..., lo] * (1 - w) + rows[..., hi] * w
        return np.repeat(out, 3, axis=1)

    return Digits(up(d.x_train), d.t_train, up(d.x_test), d.t_test)


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
    eval_steps: list[int] = field(default_factory=list)
    eval_err_over_bound: list[float] = field(default_factory=list)
    # largest |NumPy - independent twin| / |twin| of the running statistics at the end
    stats_rel_diff: float = 0.0

    @property
    def max_rel_diff(self) -> float:
        """Largest |loss_np - loss_twin| / |loss_twin| over the steps."""
        a, b = np.asarray(self.loss_np), np.asarray(self.loss_twin)
        return float(np.max(np.abs(a - b) / np.abs(b)))


def backprop(net) -> dict[str, np.ndarray]:
    """Parameter gradients of the loss the net computed last (in whichever mode)."""
    dout = net.last_layer.backward(1)
    for layer in reversed(net.layers.values()):
        dout = layer.backward(dout)
    return {k: getattr(net.layers[ln], "d" + attr) for k, (ln, attr) in net.owners.items()}


@one_thread()
def train_side_by_side(net, data: Digits, steps: int = 200, batch_size: int = 32,
                       lr: float = 0.1, seed: int = 0, eval_every: int = 10) -> TrainingRun:
    """SGD on `net` (float64, changed in place) and on its twin, same batches (and masks)."""
    if np.dtype(net.params["W1"].dtype) != np.float64:
        raise ValueError("side-by-side training compares float64 runs")
    if eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    model, names = twin(net)
    check, _ = twin(net)
    modal = bool(getattr(model, "layer_names", None)) and any(
        type(net.layers[n]).__name__ != "LRN" for n in model.layer_names.values())
    run = TrainingRun(filters_before=net.params["W1"].copy())
    rng = np.random.default_rng(seed)
    ce = nn.CrossEntropyLoss()
    for step in range(steps):
        idx = rng.choice(len(data.x_train), batch_size, replace=False)
        xb, tb = data.x_train[idx], data.t_train[idx]
        load_state(check, net, masks=False)  # running statistics before the step
        grads = {k: v.copy() for k, v in net.gradient(xb, tb).items()}
        loss_np = float(net.last_layer.loss)
        load_twin(check, names, net.params)
        load_state(check, net, stats=False)  # the masks this step drew
        load_state(model, net, stats=False)
        truth = net_truth(check, names, xb, tb, "f64")
        ag = agreement(truth, loss_np, grads, running_stats(net))
        run.ambiguous += ag.ambiguous
        run.step_err_over_bound.append(ag.worst)
        if modal and step % eval_every == 0:
            run.eval_steps.append(step)
            run.eval_err_over_bound.append(_eval_agreement(net, check, names, xb, tb))

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
    model.eval()
    with torch.no_grad():
        scores = model(torch.from_numpy(data.x_test)).numpy()
    run.twin_test_accuracy = float(np.mean(scores.argmax(axis=1) == data.t_test))
    twin_stats = {f"{n}.{k}": getattr(model[i], k).numpy()
                  for i, n in getattr(model, "layer_names", {}).items()
                  for k in ("running_mean", "running_var") if hasattr(model[i], k)}
    ours = running_stats(net)
    run.stats_rel_diff = max((float(np.max(np.abs(ours[k] - v) / np.abs(v)))
                              for k, v in twin_stats.items()), default=0.0)
    return run


def _eval_agreement(net, check: nn.Sequential, names, xb: np.ndarray,
                    tb: np.ndarray) -> float:
    """Worst err/bound of the test-mode loss and gradients at the net's current state."""
    loss = float(net.loss(xb, tb, train_flg=False))
    grads = backprop(net)
    check.eval()
    try:
        load_state(check, net, masks=False)
        return agreement(net_truth(check, names, xb, tb, "f64"), loss, grads).worst
    finally:
        check.train()


def _named(model: nn.Sequential, names) -> dict[str, torch.Tensor]:
    """The twin's parameters under the notes' names and layout (Linear weight as W)."""
    out = {}
    for i, (wk, bk) in names.items():
        m = model[i]
        out[wk] = m.weight.T if isinstance(m, nn.Linear) else m.weight
        out[bk] = m.bias
    return out
