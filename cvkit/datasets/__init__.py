"""Datasets: the synthetic ``shapes`` set, tf.data pipelines and loaders for real datasets on disk.

- ``synthetic.py``: :func:`shapes`, the deterministic synthetic localization set, and its presets;
- ``pipeline.py``: ``tf.data`` pipelines with augmentation that moves boxes and masks with the
  pixels (:func:`make_pipeline` and one function per task);
- ``formats/``: one loader per real source (:func:`load_oxford_pet`, :func:`load_cub200`,
  :func:`load_csv`) and the shared record reading (:class:`LocalizationRecords`).

Nothing here downloads: real datasets are read from folders the user prepared (see
``datasets/README.md``).
"""
from .formats import (DatasetFormatError, LocalizationRecords, load_csv, load_cub200,
                      load_oxford_pet)
from .instances import InstanceSet, instance_pipeline, instances, instances_from_records
from .pipeline import (classification_pipeline, localization_pipeline, make_pipeline,
                       segmentation_pipeline)
from .synthetic import CLASS_NAMES, PRESETS, ShapesDataset, mask_to_box, shapes

__all__ = ["CLASS_NAMES", "PRESETS", "ShapesDataset", "mask_to_box", "shapes", "make_pipeline",
           "classification_pipeline", "localization_pipeline", "segmentation_pipeline",
           "DatasetFormatError", "LocalizationRecords", "load_csv", "load_cub200", "load_oxford_pet",
           "InstanceSet", "instances", "instances_from_records", "instance_pipeline"]
