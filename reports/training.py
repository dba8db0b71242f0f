"""The SimpleConvNet section of the report: twin agreement, side-by-side training, filters."""

from __future__ import annotations

import html
import io
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tabulate import tabulate

from impl.convnet import LeNet, SimpleConvNet
from reference.convnet import agreement, net_truth, twin
from reference.training import TrainingRun, digits, train_side_by_side
from reports.render import img_tag

STEPS = 500
DIGITS_NET = dict(input_dim=(1, 8, 8),
                  conv_param={"filter_num": 16, "filter_size": 5, "pad": 2, "stride": 1},
                  hidden_size=50, output_size=10, weight_init_std=0.1)
SGD = dict(batch_size=32, lr=0.1, seed=0)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def agreement_rows(batch: int = 8) -> list[dict[str, object]]:
    """Loss and gradients of the default-size networks against their twins, f64 and f32."""
    rows = []
    for name, make in (("SimpleConvNet()", lambda d: SimpleConvNet(rng=0, dtype=d)),
                       ("LeNet()", lambda d: LeNet(rng=0, dtype=d))):
        for d, dtype in (("f64", np.float64), ("f32", np.float32)):
            net = make(dtype)
            rng = np.random.default_rng(1)
            x = rng.standard_normal((batch, *net.input_dim)).astype(dtype)
            t = rng.integers(0, 10, batch)
            grads = net.gradient(x, t)
            model, names = twin(net)
            ag = agreement(net_truth(model, names, x, t, d), net.last_layer.loss, grads)
            grad_keys = [k for k in ag.err_over_bound if k != "loss"]
            rows.append({
                "network": name, "dtype": d, "batch": batch,
                "loss err/bound": ag.err_over_bound["loss"],
                "max grad err/bound": max(ag.err_over_bound[k] for k in grad_keys),
                "max rel err": max(ag.max_rel_err.values()),
                "near-kinks": ag.ambiguous,
            })
    return rows


def loss_plot(run: TrainingRun) -> bytes:
    """Both loss curves on one axis; below, the per-step err_over_bound figures."""
    fig = Figure(figsize=(8, 5.5))
    ax, bx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    steps = np.arange(1, len(run.loss_np) + 1)
    ax.plot(steps, run.loss_twin, color="tab:orange", lw=3, alpha=0.6, label="PyTorch twin")
    ax.plot(steps, run.loss_np, color="tab:blue", lw=1, label="NumPy SimpleConvNet")
    ax.set_ylabel("mini-batch loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("SGD on 8x8 digits, float64, same weights and batches")
    floor = 1e-8  # exact agreement (0) drawn at the bottom
    bx.plot(steps, np.maximum(run.step_err_over_bound, floor), lw=1,
            label="step: NumPy vs float64 truth at its weights")
    bx.plot(steps, np.maximum(run.curve_err_over_bound, floor), lw=1,
            label="curve: NumPy vs independent twin run")
    bx.axhline(1, color="red", lw=1, ls="--", label="bound")
    bx.set_yscale("log")
    bx.set_ylabel("err / bound")
    bx.set_xlabel("step")
    bx.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def filter_plot(before: np.ndarray, after: np.ndarray) -> bytes:
    """First-layer filters before and after training, each scaled min->black, max->white."""
    n = before.shape[0]
    fig = Figure(figsize=(max(4, 0.6 * n), 1.6))
    axes = fig.subplots(2, n, squeeze=False)
    for row, (W, label) in enumerate(((before, "before"), (after, "after"))):
        for i in range(n):
            a = axes[row, i]
            a.imshow(W[i, 0], cmap="gray", interpolation="nearest")  # per-filter min/max
            a.set_xticks([])
            a.set_yticks([])
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.subplots_adjust(left=0.08, right=0.99, top=0.95, bottom=0.05, wspace=0.1, hspace=0.1)
    return _png(fig)


def training_section(out_dir: Path) -> tuple[str, str]:
    """(markdown, html) for the report; writes training_loss.png and filters.png."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = agreement_rows()
    net = SimpleConvNet(**DIGITS_NET, rng=0)
    data = digits()
    run = train_side_by_side(net, data, steps=STEPS, **SGD)
    loss_png, filt_png = loss_plot(run), filter_plot(run.filters_before, run.filters_after)
    (out_dir / "training_loss.png").write_bytes(loss_png)
    (out_dir / "filters.png").write_bytes(filt_png)
    figures = [
        ("steps (batch 32, lr 0.1)", STEPS),
        ("max err/bound per step (loss and all gradients vs float64 truth)",
         max(run.step_err_over_bound)),
        ("max err/bound, NumPy loss curve vs independent twin run",
         max(run.curve_err_over_bound)),
        ("max relative difference of the two loss curves", run.max_rel_diff),
        ("near-kinks met (summed over steps; the bound widens there)", run.ambiguous),
        ("final mini-batch loss, NumPy / twin", f"{run.loss_np[-1]:.4g} / "
                                                f"{run.loss_twin[-1]:.4g}"),
        (f"train accuracy ({len(data.t_train)} images)", f"{run.train_accuracy:.1%}"),
        (f"held-out accuracy ({len(data.t_test)} images; chance 10%)",
         f"{run.test_accuracy:.1%}"),
        ("held-out accuracy of the twin", f"{run.twin_test_accuracy:.1%}"),
    ]
    intro = (
        f"SimpleConvNet (conv 16x5x5 pad 2 - relu - pool - affine 50 - relu - affine 10) "
        f"and its PyTorch twin (nn.Conv2d, ReLU, MaxPool2d, Linear, ReLU, Linear, "
        f"CrossEntropyLoss) start from the same weights and take {STEPS} plain SGD steps "
        f"in float64 on scikit-learn's 8x8 digits ({len(data.t_train)} train / "
        f"{len(data.t_test)} held out), same mini-batches. The bound for a whole network "
        f"propagates per-layer gamma_K rounding bounds forward and backward to first order "
        f"(reference/convnet.py documents it); err/bound <= 1 passes.")
    figures = [(k, f"{v:.3g}" if isinstance(v, float) else str(v)) for k, v in figures]
    hdr = ["figure", "value"]
    agree_md = tabulate(rows, headers="keys", tablefmt="github", floatfmt=".3g")
    fig_md = tabulate(figures, headers=hdr, tablefmt="github", floatfmt=".3g")
    md = "\n".join([
        "## SimpleConvNet end to end", "", intro, "",
        "### Twins: loss and every parameter gradient", "",
        "Random normal inputs; f32 rows run the network in float32 against the float64 "
        "truth of the same float32 values, with the float32 bound.", "",
        agree_md, "", "### Training side by side", "", fig_md, "",
        "![loss curves](training_loss.png)", "",
        "### First-layer filters before and after training", "",
        "![filters](filters.png)", "",
        f"_Section computed in {time.perf_counter() - t0:.1f} s._", ""])
    page = "\n".join([
        "<h2>SimpleConvNet end to end</h2>", f"<p>{html.escape(intro)}</p>",
        "<h3>Twins: loss and every parameter gradient</h3>",
        "<p class='note'>Random normal inputs; f32 rows run the network in float32 against "
        "the float64 truth of the same float32 values, with the float32 bound.</p>",
        tabulate(rows, headers="keys", tablefmt="html", floatfmt=".3g"),
        "<h3>Training side by side</h3>",
        tabulate(figures, headers=hdr, tablefmt="html", floatfmt=".3g"),
        img_tag(loss_png, "NumPy and PyTorch loss curves"),
        "<h3>First-layer filters before and after training</h3>",
        "<p class='note'>Each filter scaled on its own: minimum black, maximum white.</p>",
        img_tag(filt_png, "first-layer filters before and after training"),
        f"<p class='note'>Section computed in {time.perf_counter() - t0:.1f} s.</p>"])
    return md, page
