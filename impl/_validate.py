"""Argument checks and output-size rules shared by the layers (PyTorch CPU semantics)."""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def pair(value, name: str) -> tuple[int, int]:
    """Return ``(h, w)`` from an int or a 2-sequence of ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {name}={value!r}")


def at_least(values: tuple[int, ...], minimum: int, name: str) -> tuple[int, ...]:
    """Check every entry of ``values`` is >= ``minimum``; return ``values``."""
    if any(v < minimum for v in values):
        shown = values[0] if len(set(values)) == 1 else values
        raise ValueError(f"{name} must be >= {minimum}, got {name}={shown}")
    return values


def padding(pad, name: str = "pad") -> tuple[int, int, int, int]:
    """Return ``(top, bottom, left, right)`` from an int, an (h, w) pair or a 4-tuple."""
    if isinstance(pad, (tuple, list)) and len(pad) == 4:
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pad):
            raise ValueError(f"{name} must hold ints, got {name}={pad!r}")
        top, bottom, left, right = (int(v) for v in pad)
    else:
        ph, pw = pair(pad, name)
        top, bottom, left, right = ph, ph, pw, pw
    return at_least((top, bottom, left, right), 0, name)  # type: ignore[return-value]


def pooling_output_size(size, kernel, stride, pad_lo, pad_hi, dilation, ceil_mode, name):
    """Output length along one axis, PyTorch's ``pooling_output_shape`` rule."""
    span = size + pad_lo + pad_hi - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        # the last window must start inside the input or the left padding
        if (out - 1) * stride >= size + pad_lo:
            out -= 1
    else:
        out = span // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {name} (effective {dilation * (kernel - 1) + 1} = dilation*(kernel-1)+1 "
            f"with kernel={kernel}, dilation={dilation}) leaves output {name} {out} < 1 "
            f"(input {name} {size}, padding {pad_lo}+{pad_hi}, stride {stride})"
        )
    return out


def conv_output_size(size, kernel, stride, pad_lo, pad_hi, dilation, name):
    """Output length along one axis for a convolution; checks the kernel fits."""
    effective = dilation * (kernel - 1) + 1
    padded = size + pad_lo + pad_hi
    if effective > padded:
        raise ValueError(
            f"kernel {name} (effective {effective} = dilation*(kernel-1)+1 with "
            f"kernel={kernel}, dilation={dilation}) is larger than the padded input "
            f"{name} {padded}"
        )
    return pooling_output_size(size, kernel, stride, pad_lo, pad_hi, dilation, False, name)


def float_array(a, name: str) -> np.ndarray:
    """Check ``a`` is a float32/float64 ndarray (no conversion, no copy)."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {name} of type {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {name}.dtype={a.dtype}")
    return a


def same_dtype(a: np.ndarray, ref: np.ndarray, name: str, ref_name: str) -> None:
    """Refuse mixed precision instead of casting silently."""
    if a.dtype != ref.dtype:
        raise ValueError(
            f"{name}.dtype={a.dtype} differs from {ref_name}.dtype={ref.dtype} (no silent casts)"
        )


def shape_is(a: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    """Check ``a.shape == shape``."""
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {name}.shape={a.shape}")


def weights(W, b, layout: str, out_axis: int) -> None:
    """Check a weight array of the given axis layout and its bias (None allowed)."""
    float_array(W, "W")
    ndim = layout.count(",") + 1
    if W.ndim != ndim:
        raise ValueError(f"W must be {ndim}-D {layout}, got W.ndim={W.ndim}")
    if b is not None:
        float_array(b, "b")
        shape_is(b, (W.shape[out_axis],), "b")
        same_dtype(b, W, "b", "W")
