"""Datasets: the synthetic ``shapes`` set, tf.data pipelines and loaders for real datasets on disk.

Nothing here downloads: real datasets are read from folders the user prepared (see
``datasets/README.md``).
"""
from .synthetic import CLASS_NAMES, ShapesDataset, mask_to_box, shapes

__all__ = ["CLASS_NAMES", "ShapesDataset", "mask_to_box", "shapes"]
