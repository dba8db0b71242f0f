"""A diagnosis is data: a cause code, the arrays' facts, and the pattern of where the values
differ. It becomes words only here, in `words()` and `render()`, from one catalogue of
templates keyed by code; nothing downstream reads the words back.

Codes fall in three kinds (`KIND`):
- "cause": a named mistake, stated only where a check on the failing case confirmed it
  (reference/diagnose.py runs the checks);
- "fact": what happened, with no cause claimed (an exception, a wrong shape, None returned,
  the elements that differ and where);
- "note": a remark that qualifies a result (a pass by rejection, a *_fast variant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Diagnosis:
    """One finding about one output: `code` (a key of TEMPLATES), `facts` (plain JSON-able
    values: counts, indices, values, names, line numbers) and `pattern` (where or how the
    values differ, a code of PATTERNS, or None)."""

    code: str
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False)
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise ValueError(f"unknown diagnosis code {self.code!r}")
        if self.pattern is not None and self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}")

    @property
    def kind(self) -> str:
        """'cause', 'fact' or 'note'."""
        return KIND.get(self.code, "fact")

    @property
    def is_cause(self) -> bool:
        return self.kind == "cause"

    def words(self) -> str:
        """The sentence for this diagnosis (the only place, with `render`, text is made)."""
        if self.code == "values":
            return render([self])
        t = TEMPLATES[self.code]
        return t(self.facts) if callable(t) else t.format_map(_Facts(self.facts))

    def to_json(self) -> dict[str, Any]:
        """{'code', 'facts', 'pattern'}: the record as JSON, words excluded."""
        return {"code": self.code, "facts": dict(self.facts), "pattern": self.pattern}


class _Unknown:
    """A missing fact: '?' under any format spec."""

    def __format__(self, spec: str) -> str:
        return "?"


class _Facts(dict):
    """format_map's mapping: a missing fact reads as '?' rather than raising."""

    def __missing__(self, key: str) -> _Unknown:
        return _Unknown()


def render(diagnoses: Iterable[Diagnosis]) -> str:
    """The diagnoses as one paragraph: prefixes (an input modified in place) first; a values
    finding's head, then its causes after ': ', then its worst element after '; '; the rest
    joined by spaces."""
    ds = list(diagnoses)
    pre = [d.words() for d in ds if d.code in PREFIX_CODES]
    values = next((d for d in ds if d.code == "values"), None)
    rest = [d for d in ds if d.code not in PREFIX_CODES and d is not values]
    if values is not None:
        head = _values_head(values.facts)
        causes = [d.words() for d in rest if d.is_cause]
        other = [d.words() for d in rest if not d.is_cause]
        if values.pattern is not None:
            other = [PATTERNS[values.pattern].format_map(_Facts(values.facts)), *other]
        body = f"{head}: {'; '.join(causes)}" if causes else head
        body = "; ".join([body, *other, _worst_words(values.facts)])
    else:
        body = " ".join(w for w in (d.words() for d in rest) if w)
    lead = " ".join(f"{p}." for p in pre)
    return f"{lead} {body}".strip() if lead else body


def causes(diagnoses: Iterable[Diagnosis]) -> tuple[str, ...]:
    """The confirmed cause codes among the diagnoses, in order."""
    return tuple(d.code for d in diagnoses if d.is_cause)


def codes(diagnoses: Iterable[Diagnosis]) -> tuple[str, ...]:
    """Every code, in order."""
    return tuple(d.code for d in diagnoses)


def _values_head(f: Mapping[str, Any]) -> str:
    k, n = f.get("mismatched", 0), f.get("size", 0)
    return f"{k} of {n} elements ({100 * k / max(n, 1):.1f}%) exceed the error bound"


def _worst_words(f: Mapping[str, Any]) -> str:
    if "worst_index" not in f:
        return "worst element not shown" if f.get("unshown") else "no element to show"
    return (f"worst at index {tuple(f['worst_index'])}: got {f['got']!r}, expected "
            f"{f['expected']!r} (bound {f['bound']:.3g})")


def _scaled(f: Mapping[str, Any]) -> str:
    share = (f" (in {f['k']} of {f['n']} elements)" if f.get("k") is not None
             and f.get("n") is not None and f["k"] < f["n"] else "")
    return f"{f['output']} is the truth scaled by {f['factor']:.6g}{share}"


def _raised(f: Mapping[str, Any]) -> str:
    where = ""
    if f.get("file"):
        where = f" at {f['file']} line {f['line']}" + (f": {f['code']}" if f.get("code") else "")
    text = f"{f.get('phase') or 'the run'} raised {f['error']}{where}"
    hint = f.get("hint")
    return f"{text}. {HINTS[hint].format_map(_Facts(f))}" if hint else text


def _modified(f: Mapping[str, Any]) -> str:
    return f"input modified in place: {', '.join(f['names'])}"


def _shape(f: Mapping[str, Any]) -> str:
    head = f"wrong shape: expected {tuple(f['expected'])}, got {tuple(f['got'])}."
    return " ".join(str(p) for p in (head, f.get("hint"), f.get("slip")) if p)


def _relu(f: Mapping[str, Any]) -> str:
    return ("gradient at x == 0 differs: PyTorch's ReLU passes no gradient where x == 0 "
            "(mask x > 0, not x >= 0)")


def _tie(f: Mapping[str, Any]) -> str:
    how = ("the gradient went to a different element of windows with tied maxima"
           if f.get("moved") else
           "windows with tied maxima spread the gradient over several elements")
    return (f"{how}. PyTorch gives it to the first maximum in row-major window order "
            f"(tie-breaking difference)")


def _pad_zero(f: Mapping[str, Any]) -> str:
    if f.get("output") == "out":
        return ("padding counted as zero, so it wins over negative inputs. PyTorch pads max "
                "pooling with -inf: padding never wins")
    return ("padding counted as zero won the max, so the gradient went to the padding. "
            "PyTorch pads max pooling with -inf: padding never wins")


def _norm_suffix(text: str) -> Callable[[Mapping[str, Any]], str]:
    def words(f: Mapping[str, Any]) -> str:
        base = text.format_map(_Facts(f))
        if f.get("output") not in (None, "out") and f.get("follows"):
            base += f" ({f['output']} follows from forward's mistake)"
        return base
    return words


# Hints attached to an exception ('raised'), keyed by a hint code.
HINTS: dict[str, str] = {
    "drift": "{drift}",
    "stub": ("not implemented yet: {what} returns None (its body is still a stub, `pass` or "
             "a TODO)"),
    "no_method": ("{cls} has no {method} method: define {method}(self, {arg}) in the class"),
    "unstored": ("backward uses something forward never stored (still None): keep what "
                 "backward needs in forward (self.x = x, self.col = col, self.col_W = col_W)"),
    "never_set": ("backward reads self.{attr}, which forward never set: keep what backward "
                  "needs in forward (self.{attr} = ...; for example self.x = x)"),
    "reshape_size": "the output size used in forward disagrees with the data. {shape_hint}",
    "labels_onehot_loss": ("the loss treats the labels t as one-hot (N, C), but t holds class "
                           "indices (N,) here: accept both (if t.ndim == 1, pick "
                           "y[np.arange(N), t])"),
    "broadcast": "shapes do not line up (check reshape/transpose order and the bias shape)",
    "labels_index_loss": ("the labels t are one-hot here (shape (N, C)): turn them into class "
                          "indices first (if t.ndim == 2: t = t.argmax(axis=1))"),
    "empty_window": ("a window or slice came out empty: check the output size formula and the "
                     "slice bounds (x[:, :, pad:-pad] is empty when pad = 0)"),
    "assert_divisible": ("the file rejects sizes where (H + 2*pad - kernel) is not divisible "
                         "by the stride; PyTorch takes floor((H + 2*pad - kernel) / stride) + "
                         "1 and leaves the remaining rows and columns out"),
}

PATTERNS: dict[str, str] = {
    "border": "only at the border, within pad of the edge",
    "interior": "only away from the border (more than pad from every edge)",
    "overlap": "only where windows overlap (stride < kernel)",
    "single_cover": "only where a single window covers the element",
    "tied_windows": "only in windows with tied maxima",
    "everywhere": "in every element",
    "some_channels": "only in channels {channels} (the others are right)",
    "scattered": "scattered, with no border, overlap or channel pattern",
}

TEMPLATES: dict[str, str | Callable[[Mapping[str, Any]], str]] = {
    # --- facts: what happened, no cause claimed -------------------------------------------
    "values": lambda f: _values_head(f),  # words() renders it whole, with render()
    "returned_none": "returned None (not computed or not stored)",
    "wrong_type": "returned {type}, expected a numpy.ndarray",
    "shape": _shape,
    "dtype": "wrong dtype: {dtype} in should give {dtype} out, got {got}",
    "dtype_kind": "wrong dtype: expected floating point, got {got}",
    "raised": _raised,
    "timeout": "{error}",
    "not_computed": "not computed",
    "missing": "layer not defined",
    "missing_named": "{words}",
    "rejected_by_torch": ("PyTorch rejects this configuration ({rejected}); expected a "
                          "ValueError naming the parameter, got {error}"),
    "rejection_missing": ("PyTorch rejects this configuration ({rejected}), but the "
                          "implementation returned a result: raise ValueError naming the "
                          "parameter"),
    "modified_in_place": _modified,
    "non_finite": "non-finite values (NaN/inf) where the truth is finite",
    "all_zero": "{output} is all zeros",
    "text": "{text}",  # words from outside the engine (a JSON file read back, a policy)
    # --- notes ---------------------------------------------------------------------------
    "rejected_ok": "rejected as PyTorch does ({error})",
    "variant": "[{name}]",
    # --- causes: named only where a check on the failing case confirmed them -------------
    "float32_arithmetic": ("by float32 rounding-level amounts: the float64 case was computed in "
                           "float32 somewhere (a cast or a float32 buffer)"),
    "scaled": _scaled,
    "sum_not_mean": ("{output} is N = {N} times too large: divide by the batch size (a mean, "
                     "not a sum)"),
    "mean_not_sum": ("{output} is divided by the batch size N = {N}: it should be a sum, not "
                     "a mean"),
    "dout_ignored": ("dx ignores the upstream gradient dout: backward(dout) must return "
                     "dout * (y - t) / N, not (y - t) / N"),
    "softmax_overflow": ("exp overflowed on large logits: subtract each row's maximum before "
                         "exp (softmax(x) = softmax(x - max x))"),
    "labels_as_onehot": ("the loss treats the labels t as one-hot (N, C), but t holds class "
                         "indices (N,): accept both (if t.ndim == 1, pick y[np.arange(N), t]; "
                         "the book's cross_entropy_error does t = t.argmax(axis=1) only for "
                         "one-hot t)"),
    "labels_as_index": ("the loss treats the labels t as class indices (N,), but t is one-hot "
                        "(N, C) here: convert it first (if t.ndim == 2: t = t.argmax(axis=1))"),
    "log_eps": ("the loss is -log(y + {eps:g}): the epsilon shifts it by up to {eps:g}/y. "
                "Compute it from log-softmax (x - max - log sum exp) with no epsilon"),
    "bias_missing": "the bias b is not added to the output",
    "bias_axis": ("bias added along axis {axis} instead of the channel/feature axis 1 (b must "
                  "broadcast as b.reshape(1, F, 1, 1) for conv, (1, F) for affine)"),
    "flipped_kernel": lambda f: (
        "the kernel is flipped (true convolution): CNN layers compute cross-correlation, use "
        "W as it is" + ("" if f.get("output", "out") == "out" else
                        f" ({f['output']} is the flipped kernel's gradient)")),
    "dw_no_transpose": ("dW was reshaped without transposing back: dW = col.T @ dout is "
                        "(C*kh*kw, F), so take dW.transpose(1, 0).reshape(F, C, kh, kw)"),
    "relu_grad_at_zero": _relu,
    "pad_zero_max": _pad_zero,
    "overlap_assign": ("only where windows overlap (stride < kernel): gradients from "
                       "overlapping windows must be accumulated (+=), not assigned"),
    "tie_break": _tie,
    "pad_crop": ("dx is cut from the padded gradient at offset {offset} instead of {pad}: "
                 "crop it as dx_padded[:, :, pad:pad + H, pad:pad + W] (cutting [:H, :W] "
                 "keeps the top and left padding and drops the bottom and right rows)"),
    "pad_one_sided": ("the padding is all on one side ({side}): pad = {pad} goes on both "
                      "sides, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))"),
    "col2im_axes_swapped": ("the kernel's height and width axes are swapped when the columns "
                            "are folded back (col2im): reshape col as (N, out_h, out_w, C, "
                            "filter_h, filter_w) and transpose to (0, 3, 4, 5, 1, 2)"),
    "unbiased_variance": _norm_suffix(
        "normalized with the unbiased variance (divides by m - 1): normalization divides by "
        "the biased variance, mean((x - mu)**2) (np.var's default ddof=0)"),
    "eps_outside_sqrt": _norm_suffix(
        "eps is added outside the square root: normalize by sqrt(var + eps) (eps = {eps:g}), "
        "not sqrt(var) + eps"),
    "bn_per_channel": _norm_suffix(
        "statistics per channel: the notes' BatchNormalization flattens 4-D input per "
        "sample, x.reshape(N, -1), and keeps one mean and variance per feature"),
    "sbn_per_feature": _norm_suffix(
        "statistics per feature (c, h, w) instead of per channel: spatial batch norm averages "
        "over N, H and W (x.transpose(0, 2, 3, 1).reshape(-1, C) before batchnorm_forward, "
        "and back)"),
    "gn_interleaved": _norm_suffix(
        "groups split along the wrong axis: channel c went to group c % G. Group g holds the "
        "consecutive channels g*C/G .. (g+1)*C/G - 1: x.reshape(N, G, C // G, H, W)"),
    "gn_across_batch": _norm_suffix(
        "groups formed across the batch (x.reshape(G, -1)): each sample has its own "
        "statistics, x.reshape(N, G, -1)"),
    "test_uses_batch_stats": _norm_suffix(
        "test mode normalized with the batch's statistics: test mode must use running_mean "
        "and running_var"),
    "running_changed_in_test": ("{output} changed in test mode: test mode only reads the "
                                "running statistics; update them in training only"),
    "running_not_updated": ("{output} was not updated in training (still zeros): running = "
                            "momentum * running + (1 - momentum) * batch statistic, every "
                            "forward in training"),
    "running_unbiased": ("running_var uses the unbiased batch variance (PyTorch's "
                         "convention); the curricula (the notes, CS231n) keep the biased "
                         "one, mean((x - mu)**2): checked against the curricula's definition"),
    "running_momentum_swapped": ("{output}: momentum weighs the batch (PyTorch's momentum=0.1 "
                                 "convention); the curricula's is running = momentum * "
                                 "running + (1 - momentum) * batch with momentum = 0.9"),
    "running_last_only": ("{output} holds only the last batch's update: the running "
                          "statistics must carry over from one forward to the next (keep "
                          "them on the layer or in bn_param)"),
    "dropout_test_identity": ("test mode returned x unchanged: the notes' dropout is not "
                              "inverted, so test mode outputs x * (1 - dropout_ratio)"),
    "dropout_test_scaled": ("test mode multiplied by p: inverted dropout already scaled the "
                            "kept values in training, so test mode is the identity (out = x)"),
    "dropout_mask_redrawn": ("backward used a different mask from forward's ({differ} of "
                             "{size} elements differ): keep the mask drawn in forward "
                             "(self.mask or the cache) and reuse it; never draw a new one in "
                             "backward"),
    "dropout_not_rescaled": ("kept values are not rescaled: inverted dropout divides them by "
                             "p (the keep probability {rate:g}), mask = (rand(...) < p) / p"),
    "dropout_drop_as_keep": ("kept values are scaled by 1/(1 - p) = {factor:.4g}: p is the "
                             "keep probability, scale by 1/p = {want:.4g}"),
    "dropout_book_scaled": ("kept values are scaled by {factor:.4g}: the notes' dropout is not "
                            "inverted, training keeps x unchanged (out = x * mask) and test "
                            "mode multiplies by 1 - dropout_ratio"),
    "dropout_wrong_scale": "kept values are scaled by {factor:.4g}, expected 1/p = {want:.4g}",
    "keep_rate": ("kept {rate:.3f} of the elements where the keep probability is {want:g} "
                  "(binomial test p-value {p_value:.2g} < {alarm:g})"),
    "keep_rate_swapped": lambda f: (
        TEMPLATES_KEEP_HEAD.format_map(_Facts(f))
        + (": dropout_ratio is the probability of dropping (the notes: mask = rand(...) > "
           "dropout_ratio), used here as the keep probability" if f.get("layer") == "dropout"
           else ": p is the probability of keeping (CS231n: mask = (rand(...) < p) / p), used "
                "here as the drop probability")),
    "keep_unjudged": "{words}",
    "svm_counts_correct_loss": ("the loss is 1 too large: the margin of the correct class is "
                                "counted too (x_y - x_y + 1 = 1 per sample): sum over j != y_i "
                                "only (set margins[np.arange(N), y] = 0)"),
    "svm_counts_correct_dx": ("dx of the correct class is off by -dout/N: the margin of the "
                              "correct class is counted too (x_y - x_y + 1 = 1 per sample): "
                              "sum over j != y_i only (set margins[np.arange(N), y] = 0)"),
}
TEMPLATES_KEEP_HEAD = ("kept {rate:.3f} of the elements where the keep probability is {want:g} "
                       "(binomial test p-value {p_value:.2g} < {alarm:g})")



# --- networks' and optimizers' findings (reference/net_twins.py, reference/optim_judge.py) ---
# A unit verdict's words are its diagnoses' words joined by "; " (`unit_words`).
def _no_gradient(f: Mapping[str, Any]) -> str:
    out = f"grads['{f.get('name', '?')}'] is missing ({f.get('layer', '?')} gets no gradient)"
    if f.get("pair"):
        out += f"; gamma{f['index']}/beta{f['index']} get no gradient"
    return out


def _reg_missing_in_grad(f: Mapping[str, Any]) -> str:
    return (f"the reg term is missing from grads['{f.get('name', '?')}']"
            + (" (loss includes it)" if f.get("loss_ok") else ""))


def _unit_error(f: Mapping[str, Any]) -> str:
    return f"{f['phase']}: {f.get('error', '?')}" if f.get("phase") else str(f.get("error", "?"))


# The optimizers' formula variants (reference/optim_oracle.py runs them), by variant name:
# the words, and the code that groups them.
OPTIM_VARIANT_WORDS = {
    "ascent": "adds the step instead of subtracting it (gradient ascent)",
    "lr_twice": "applies the learning rate twice (lr * lr)",
    "state_reset": "does not keep its state across steps (starts afresh at every update)",
    "eps_inside_sqrt": "adds eps inside the square root: sqrt(h + eps)",
    "no_sqrt": "divides by h + eps, without the square root",
    "no_eps": "leaves eps out of the denominator",
    "torch_eps": "adds eps to the bias-corrected sqrt(v_hat) (CS231n's and PyTorch's Adam); "
                 "the notes add it to sqrt(v) and fold the corrections into lr_t",
    "book_eps": "adds eps to the uncorrected sqrt(v) (the notes' Adam); CS231n adds it to "
                "sqrt(v / (1 - beta2**t))",
    "no_bias_correction": "leaves out the bias corrections 1 - beta1**t and 1 - beta2**t",
    "t_frozen": "does not increment t (the bias corrections stay at t = 1)",
    "old_v": "updates p with the old v (PyTorch's nesterov); the notes update v first and use "
             "the new v",
    "decay_swapped": "swaps decay_rate and 1 - decay_rate",
    "betas_swapped": "swaps beta and 1 - beta in the moving averages",
}
OPTIM_VARIANT_CODE = {
    "ascent": "gradient_ascent", "lr_twice": "lr_twice", "state_reset": "state_not_kept",
    "eps_inside_sqrt": "eps_placement", "torch_eps": "eps_placement",
    "book_eps": "eps_placement", "no_eps": "eps_missing", "no_sqrt": "sqrt_missing",
    "no_bias_correction": "bias_correction_missing", "t_frozen": "t_not_incremented",
    "old_v": "nesterov_old_v", "decay_swapped": "decay_swapped",
    "betas_swapped": "decay_swapped",
}


def _variant(f: Mapping[str, Any]) -> str:
    return OPTIM_VARIANT_WORDS.get(str(f.get("variant")), "?")


UNIT_TEMPLATES: dict[str, str | Callable[[Mapping[str, Any]], str]] = {
    # facts
    "net_missing": "the network is not defined",
    "rule_missing": "the rule is not defined",
    "unit_error": _unit_error,
    "net_output": "{what} {why}",
    "grads_not_dict": "grads is a {type}, expected a dict",
    "optim_value": "{where}: {why}",
    "state_missing": "{where}: config['{name}'] is missing: the state must be kept in config",
    # networks' causes
    "no_gradient": _no_gradient,
    "grad_other_param": "grads['{name}'] holds {other}'s gradient (the gradient of {layer})",
    "reg_missing_in_grad": _reg_missing_in_grad,
    "reg_double": ("grads['{name}'] adds 2 * reg * W: the loss's 0.5 * reg * sum(W**2) gives "
                   "reg * W"),
    "grad_numerical_off": ("grads['{name}'] is a numerical gradient off by more than the "
                           "notes' central difference with h = {h:g} allows (a one-sided "
                           "difference, or another h?)"),
    "grad_sum_not_mean": ("grads['{name}'] is N = {N} times too large (not divided by the "
                          "batch size)"),
    "grad_sign": "grads['{name}'] has the wrong sign",
    "loss_sum_not_mean": ("the loss is N = {N} times too large (summed, not averaged over the "
                          "batch)"),
    "reg_missing_in_loss": "the reg term 0.5 * reg * sum(W**2) is missing from the loss",
    "reg_double_in_loss": ("the loss adds reg * sum(W**2): CS231n's L2 term is 0.5 * reg * "
                           "sum(W**2)"),
    "reg_skips_param": "the reg term 0.5 * reg * sum(W**2) leaves out {name} ({layer})",
    "scores_train_mode": ("loss(X) normalizes with the batch's own statistics: test mode (y is "
                          "None) uses the running mean and variance"),
    "dropout_missing": ("the loss is computed without dropout: in train mode (y given) "
                        "dropout keeps each unit with probability p"),
    "dropout_not_inverted": ("kept units are not divided by p (inverted dropout scales by 1/p "
                             "in train mode)"),
    # optimizers' causes
    "params_rebound": ("update() put new arrays into params{names} instead of updating them "
                       "in place: the network's layers keep the old arrays, which did not "
                       "change"),
    "update_returned": ("update() returned a {type} and left params unchanged: the notes' "
                        "update changes the arrays in params in place"),
    "update_not_applied": ("no parameter changed at step {step}: the update is not applied (or "
                           "not returned)"),
    "bias_correction_zero": ("non-finite values: a bias correction 1 - beta**t is 0 when t is "
                             "still 0 (t must be incremented before it is used)"),
    **{code: _variant for code in set(OPTIM_VARIANT_CODE.values())},
}
UNIT_FACTS = ("net_missing", "rule_missing", "unit_error", "net_output", "grads_not_dict",
              "optim_value", "state_missing")
TEMPLATES.update(UNIT_TEMPLATES)


def unit_words(diagnoses: Iterable[Diagnosis]) -> str:
    """A network's or optimizer's verdict in words: each diagnosis's, joined by '; '."""
    return "; ".join(d.words() for d in diagnoses)


NOTES = ("rejected_ok", "variant")
FACTS = ("values", "returned_none", "wrong_type", "shape", "dtype", "dtype_kind", "raised",
         "timeout", "not_computed", "missing", "missing_named", "rejected_by_torch",
         "rejection_missing", "modified_in_place", "non_finite", "all_zero", "text",
         "keep_rate", "keep_unjudged")
KIND: dict[str, str] = {c: ("note" if c in NOTES else "fact" if c in FACTS + UNIT_FACTS
                            else "cause")
                        for c in TEMPLATES}
PREFIX_CODES = ("modified_in_place",)


def text(words: str) -> Diagnosis:
    """Words from outside the engine, kept as a fact (no cause is read from them)."""
    return Diagnosis("text", {"text": words})
