"""`weights_fixed`: for functions that read a model without training it, cast each
block-causal weight to bf16 once for the whole call (not once per batch or generated token)."""

from __future__ import annotations

import functools

from arlearn.models.block_causal import reuse_weight_casts


def weights_fixed(fn):
    """For functions of a model that do not train it: cast each block-causal weight to bf16 once
    for the whole call, not once per batch or generated token (`reuse_weight_casts`)."""
    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        with reuse_weight_casts(model):
            return fn(model, *args, **kwargs)
    return wrapper
