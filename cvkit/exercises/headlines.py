"""The numbers a notebook demonstrates, recorded so that its test can check them.

A notebook's last code cell calls :func:`headlines` with the results it shows (accuracies, IoUs,
MaxBoxAcc, ...). The call prints them as a table for the reader and attaches them to the cell's
output under the MIME type :data:`MIME`; ``tests/notebooks`` executes the notebook, reads them
back with :func:`read_headlines` and asserts each against its target, so that a demonstration
that stops working fails CI instead of quietly showing a failing technique.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["MIME", "headlines", "read_headlines"]

#: MIME type of the recorded numbers in a cell's display data
MIME = "application/vnd.cvkit.headlines+json"


def headlines(**values):
    """Print and record a notebook's headline numbers (name=value, each a finite real number).

    Returns
    -------
    dict
        ``{name: float}``.

    Examples
    --------
    >>> out = headlines(accuracy=0.975, mean_iou=0.86)
    accuracy    0.975
    mean_iou    0.86
    """
    if not values:
        raise ValueError("`headlines` needs at least one name=value pair; got none.")
    rec = {}
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"headline `{k}` must be a finite real number; got {v!r}.")
        rec[k] = float(v)
    width = max(map(len, rec))
    text = "\n".join(f"{k:<{width}}    {v:.4g}" for k, v in rec.items())
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display({MIME: rec, "text/plain": text}, raw=True)
            return rec
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        pass
    print(text)
    return rec


def read_headlines(nb):
    """The values recorded by :func:`headlines` in an executed notebook (a ``nbformat`` node or
    dict); later calls override earlier ones.

    Parameters
    ----------
    nb : dict or nbformat.NotebookNode
        An executed notebook: the display data of :data:`MIME` in its code cells' outputs are read.

    Returns
    -------
    dict
        ``{name: float}``, empty when the notebook records nothing.

    Examples
    --------
    >>> def cell(values):
    ...     return {"cell_type": "code", "outputs": [{"output_type": "display_data",
    ...                                                "data": {MIME: values}}]}
    >>> nb = {"cells": [cell({"accuracy": 0.9, "iou": 0.7}), {"cell_type": "markdown"},
    ...                 cell({"accuracy": 0.95})]}
    >>> read_headlines(nb)
    {'accuracy': 0.95, 'iou': 0.7}
    """
    out = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if MIME in data:
                out.update(data[MIME])
    return out
