"""Static shape checks of the graph functions of :mod:`cvkit.detection.maskrcnn`."""
from __future__ import annotations


def check_shape(x, name, rank, last=None):
    """``x`` as a tensor after checking its rank (``None``: any) and its last axis; a clear
    ValueError otherwise.

    Examples
    --------
    >>> tuple(check_shape([[0.0, 0.0, 1.0, 1.0]], "boxes", 2, 4).shape)
    (1, 4)
    """
    import tensorflow as tf

    t = tf.convert_to_tensor(x)
    shape = tuple(t.shape)
    bad_rank = t.shape.rank < 1 if rank is None else t.shape.rank != rank
    if bad_rank or (last is not None and shape[-1] not in (None, last)):
        want = "any rank" if rank is None else f"rank {rank}" + (f" with a last axis of {last}" if last is not None else "")
        raise ValueError(f"`{name}` must have {want}; got shape {shape}.")
    return t
