"""The SimpleConvNet section of the report: twin agreement, side-by-side training, filters."""

from __future__ import annotations

import html
import io
import time
from pathlib import Path

import numpy as np
from layercheck.impl.alexnet import AlexNet
from layercheck.impl.convnet import LeNet, SimpleConvNet
from layercheck.impl.convnet_bn import SimpleConvNetBN
from layercheck.reference.convnet import agreement, load_state, net_truth, running_stats, twin
from layercheck.reference.training import (
    Digits,
    TrainingRun,
    backprop,
    digits,
    digits32,
    train_side_by_side,
)
from layercheck.reports.render import img_tag
from matplotlib.figure import Figure
from tabulate import tabulate

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


def loss_plot(run: TrainingRun, name: str = "SimpleConvNet",
              title: str = "SGD on 8x8 digits, float64, same weights and batches") -> bytes:
    """Both loss curves on one axis; below, the per-step err_over_bound figures."""
    fig = Figure(figsize=(10, 5.5), layout="constrained")  # legends right of the curves
    ax, bx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    steps = np.arange(1, len(run.loss_np) + 1)
    ax.plot(steps, run.loss_twin, color="tab:orange", lw=3, alpha=0.6, label="PyTorch twin")
    ax.plot(steps, run.loss_np, color="tab:blue", lw=1, label=f"NumPy {name}")
    ax.set_ylabel("mini-batch loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title)
    floor = 1e-8  # exact agreement (0) drawn at the bottom
    bx.plot(steps, np.maximum(run.step_err_over_bound, floor), lw=1,
            label="step: NumPy vs float64 truth at its weights")
    bx.plot(steps, np.maximum(run.curve_err_over_bound, floor), lw=1,
            label="curve: NumPy vs independent twin run")
    if run.eval_steps:
        bx.plot(np.asarray(run.eval_steps) + 1, np.maximum(run.eval_err_over_bound, floor),
                ".", ms=3, label="test mode: NumPy vs float64 truth")
    bx.axhline(1, color="red", lw=1, ls="--", label="bound")
    bx.set_yscale("log")
    bx.set_ylabel("err / bound")
    bx.set_xlabel("step")
    bx.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _png(fig)


def filter_plot(before: np.ndarray, after: np.ndarray) -> bytes:
    """First-layer filters before and after training, each scaled min->black, max->white."""
    n = before.shape[0]
    width = max(4, 0.6 * n)
    fig = Figure(figsize=(width, 1.6))
    axes = fig.subplots(2, n, squeeze=False)
    for row, (W, label) in enumerate(((before, "before"), (after, "after"))):
        for i in range(n):
            a = axes[row, i]
            if W.shape[1] == 3:  # as colours, each filter scaled to [0, 1] on its own
                rgb = W[i].transpose(1, 2, 0)
                span = np.ptp(rgb)
                a.imshow((rgb - rgb.min()) / (span if span > 0 else 1),
                         interpolation="nearest")
            else:
                a.imshow(W[i, 0], cmap="gray", interpolation="nearest")  # per-filter min/max
            a.set_xticks([])
            a.set_yticks([])
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.subplots_adjust(left=0.6 / width, right=0.99, top=0.95, bottom=0.05, wspace=0.1, hspace=0.1)
    return _png(fig)


def training_section(out_dir: Path) -> tuple[str, str]:
    """(markdown, html) for the report: SimpleConvNet, then `more_nets_section` (AlexNet
    and SimpleConvNetBN); writes training_loss.png, filters.png and that section's PNGs."""
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
    more_md, more_page = more_nets_section(out_dir)
    return md + "\n" + more_md, page + "\n" + more_page


# -- AlexNet-style net and the batch-normalized SimpleConvNet (issue 13) --------------------

ALEXNET_STEPS = 300
ALEXNET_NET = dict(conv_channels=(8, 16, 24, 24, 16), hidden_sizes=(64, 64),
                   dropout_ratio=0.5, rng=0, mask_rng=1)
ALEXNET_SGD = dict(batch_size=32, lr=0.2, seed=0, eval_every=10)
BN_STEPS = 300
BN_NET = dict(input_dim=(1, 8, 8),
              conv_param={"filter_num": 16, "filter_size": 5, "pad": 2, "stride": 1},
              hidden_size=50, output_size=10, rng=0)
BN_SGD = dict(batch_size=32, lr=0.1, seed=0, eval_every=10)


def _modal_agreement(net, x: np.ndarray, t: np.ndarray, d: str) -> tuple[float, float, int]:
    """(worst err/bound in training mode incl. running statistics, in test mode, near-kinks)."""
    model, names = twin(net)
    load_state(model, net, masks=False)  # running statistics before the step
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    load_state(model, net, stats=False)  # the masks the step drew
    ag = agreement(net_truth(model, names, x, t, d), net.last_layer.loss, grads,
                   running_stats(net))
    loss = net.loss(x, t, train_flg=False)
    test_grads = backprop(net)
    model.eval()
    load_state(model, net)
    ag_test = agreement(net_truth(model, names, x, t, d), loss, test_grads)
    return ag.worst, ag_test.worst, ag.ambiguous + ag_test.ambiguous


def modal_rows(batch: int = 16) -> list[dict[str, object]]:
    """Twin agreement at the initial weights on a digits batch, both modes, f64 and f32."""
    d8, d32 = digits(), digits32()
    nets = (
        ("AlexNet (report widths)", lambda dt: AlexNet(**ALEXNET_NET, dtype=dt), d32),
        ("SimpleConvNetBN (spatial BN)", lambda dt: SimpleConvNetBN(**BN_NET, dtype=dt), d8),
        ("SimpleConvNetBN (notes' BN, flattened)",
         lambda dt: SimpleConvNetBN(**BN_NET, spatial=False, dtype=dt), d8),
    )
    rows = []
    for name, make, data in nets:
        for d, dtype in (("f64", np.float64), ("f32", np.float32)):
            x, t = data.x_train[:batch].astype(dtype), data.t_train[:batch]
            train, test, kinks = _modal_agreement(make(dtype), x, t, d)
            rows.append({"network": name, "dtype": d, "batch": batch,
                         "train mode err/bound": train, "test mode err/bound": test,
                         "near-kinks": kinks})
    return rows


def _figures(run: TrainingRun, data: Digits, steps: int, lr: float, wall: float
             ) -> list[tuple[str, str]]:
    figures = [
        (f"steps (batch 32, lr {lr:g})", steps),
        ("max err/bound per step (loss, all gradients and running statistics vs float64 "
         "truth)", max(run.step_err_over_bound)),
        ("max err/bound, NumPy loss curve vs independent twin run",
         max(run.curve_err_over_bound)),
        (f"max err/bound in test mode ({len(run.eval_steps)} checks, every "
         f"{run.eval_steps[1] - run.eval_steps[0] if len(run.eval_steps) > 1 else 1} steps)",
         max(run.eval_err_over_bound, default=0.0)),
        ("max relative difference of the two loss curves", run.max_rel_diff),
        ("near-kinks met (summed over steps; the bound widens there)", run.ambiguous),
        ("final mini-batch loss, NumPy / twin",
         f"{run.loss_np[-1]:.4g} / {run.loss_twin[-1]:.4g}"),
        (f"train accuracy ({len(data.t_train)} images)", f"{run.train_accuracy:.1%}"),
        (f"held-out accuracy ({len(data.t_test)} images; chance 10%)",
         f"{run.test_accuracy:.1%}"),
        ("held-out accuracy of the twin", f"{run.twin_test_accuracy:.1%}"),
        ("wall time of the side-by-side run", f"{wall:.1f} s"),
    ]
    if run.stats_rel_diff:
        figures.insert(5, ("max relative difference, running statistics NumPy vs twin run",
                           run.stats_rel_diff))
    return [(k, f"{v:.3g}" if isinstance(v, float) else str(v)) for k, v in figures]


def _side_by_side(net, data: Digits, steps: int, sgd: dict) -> tuple[TrainingRun, float]:
    t0 = time.perf_counter()
    run = train_side_by_side(net, data, steps=steps, **sgd)
    return run, time.perf_counter() - t0


def more_nets_section(out_dir: Path) -> tuple[str, str]:
    """(markdown, html) for the AlexNet-style and batch-normalized nets; writes
    alexnet_loss.png, alexnet_filters.png, bn_loss.png and bn_filters.png."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = modal_rows()
    d32, d8 = digits32(), digits()
    alex, alex_wall = _side_by_side(AlexNet(**ALEXNET_NET), d32, ALEXNET_STEPS, ALEXNET_SGD)
    bn, bn_wall = _side_by_side(SimpleConvNetBN(**BN_NET), d8, BN_STEPS, BN_SGD)
    pngs = {
        "alexnet_loss.png": loss_plot(alex, "AlexNet", "SGD on 3x32x32 digits, float64, same "
                                      "weights, batches, dropout masks"),
        "alexnet_filters.png": filter_plot(alex.filters_before, alex.filters_after),
        "bn_loss.png": loss_plot(bn, "SimpleConvNetBN", "SGD on 8x8 digits, float64, batch "
                                 "norm in training mode"),
        "bn_filters.png": filter_plot(bn.filters_before, bn.filters_after),
    }
    for k, v in pngs.items():
        (out_dir / k).write_bytes(v)
    alex_fig = _figures(alex, d32, ALEXNET_STEPS, ALEXNET_SGD["lr"], alex_wall)
    bn_fig = _figures(bn, d8, BN_STEPS, BN_SGD["lr"], bn_wall)
    intro = (
        "An AlexNet-style network scaled to 3x32x32 input (conv 5x5 - relu - LRN - maxpool "
        "3x3/2, twice; three 3x3 convs with relu; maxpool; affine - relu - dropout, twice; "
        "affine - softmax; filters 8, 16, 24, 24, 16, hidden 64, 64; LRN size 5, alpha 1e-4, "
        "beta 0.75, k 2; the notes' dropout, ratio 0.5) and SimpleConvNet with batch norm "
        "(conv - BN - relu - pool - affine - BN - relu - affine), each beside a PyTorch twin "
        "with the same weights (nn.LocalResponseNorm; dropout as a multiplication by the "
        "mask the NumPy net drew in that step; batch norm by F.batch_norm with the notes' "
        "running statistics: momentum 0.9, biased variance, zeros at the start). Data: "
        "scikit-learn's bundled 8x8 digits (no download), for AlexNet upscaled bilinearly "
        "to 32x32 and copied to 3 channels. reference/twin_layers.py derives the bounds of "
        "the new layers; err/bound <= 1 passes.")
    hdr = ["figure", "value"]
    note = ("Digits batch at the initial weights; training mode covers the loss, every "
            "gradient and the running statistics after the step; test mode the loss and "
            "every gradient with running statistics and dropout's test scaling.")

    def tab(data, fmt: str) -> str:
        return tabulate(data, headers="keys" if isinstance(data[0], dict) else hdr,
                        tablefmt=fmt, floatfmt=".3g")

    md = "\n".join([
        "## AlexNet-style network and batch-normalized SimpleConvNet", "", intro, "",
        "### Twins: training and test mode", "", note, "", tab(rows, "github"), "",
        "### AlexNet: training side by side", "", tab(alex_fig, "github"), "",
        "![AlexNet loss curves](alexnet_loss.png)", "",
        "First-layer filters before and after training (RGB, each scaled on its own):", "",
        "![AlexNet filters](alexnet_filters.png)", "",
        "### SimpleConvNetBN: training side by side", "", tab(bn_fig, "github"), "",
        "![SimpleConvNetBN loss curves](bn_loss.png)", "",
        "![SimpleConvNetBN filters](bn_filters.png)", "",
        f"_Section computed in {time.perf_counter() - t0:.1f} s._", ""])
    page = "\n".join([
        "<h2>AlexNet-style network and batch-normalized SimpleConvNet</h2>",
        f"<p>{html.escape(intro)}</p>",
        "<h3>Twins: training and test mode</h3>", f"<p class='note'>{html.escape(note)}</p>",
        tab(rows, "html"),
        "<h3>AlexNet: training side by side</h3>", tab(alex_fig, "html"),
        img_tag(pngs["alexnet_loss.png"], "AlexNet loss curves, NumPy and PyTorch"),
        "<p class='note'>First-layer filters before and after training (RGB, each scaled on "
        "its own).</p>",
        img_tag(pngs["alexnet_filters.png"], "AlexNet first-layer filters"),
        "<h3>SimpleConvNetBN: training side by side</h3>", tab(bn_fig, "html"),
        img_tag(pngs["bn_loss.png"], "SimpleConvNetBN loss curves, NumPy and PyTorch"),
        img_tag(pngs["bn_filters.png"], "SimpleConvNetBN first-layer filters"),
        f"<p class='note'>Section computed in {time.perf_counter() - t0:.1f} s.</p>"])
    return md, page
