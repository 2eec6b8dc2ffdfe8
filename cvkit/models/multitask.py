"""``LocalizationModel``: a Keras model with its own training step for the multitask loss.

The course notes end the localization section with: "to implement a fully flexible multitask loss,
you may need to modify the training loop manually". This is that loop. The model is a functional
Keras model (built by :func:`cvkit.models.localizer`) whose :meth:`train_step` computes

.. math::
    \\mathcal{L} = w_{cls}\\, \\mathcal{L}_{cls}(y, \\hat y)
                 + \\alpha \\, \\frac{\\sum_i m_i\\, \\ell_{box}(b_i, \\hat b_i)}{\\max(1, \\sum_i m_i)}

where :math:`m_i = 0` for images without an object (their box target is
:data:`~cvkit.models.losses.NO_BOX`), :math:`\\ell_{box}` is the L2, smooth-L1 or GIoU loss and
:math:`\\alpha` (``box_weight``) balances the two tasks. Because only ``train_step`` and
``test_step`` change, everything else of Keras keeps working: ``fit`` with callbacks and validation,
``evaluate``, ``predict``, ``save`` / ``keras.models.load_model`` and ``tf.distribute`` strategies
(the loss is divided by the number of replicas, as Keras does, so that the summed gradients of a
``MirroredStrategy`` equal those of one device).

Targets are given as ``{'classifier': labels, 'localizer': boxes}`` (or a tuple ``(labels,
boxes)``); labels are class ids (or one-hot rows), boxes normalised ``xyxy``.

Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .._validate import check_float
from .losses import BOX_LOSSES, box_mask, multitask_loss
from .blocks import num_replicas
from .metrics import BoxMeanIoU, ClassAccuracy, CorrectLocalization

__all__ = ["LocalizationModel"]


@keras.saving.register_keras_serializable(package="cvkit")
class LocalizationModel(keras.Model):
    """A two-headed (``classifier``, ``localizer``) functional model with a multitask train step.

    Build it with :func:`cvkit.models.localizer`; compile with :meth:`compile`; train with
    ``fit(images, {'classifier': labels, 'localizer': boxes})``.

    Examples
    --------
    An untrained :func:`~cvkit.models.localizer` predicts uniform class probabilities and the
    centred half-size box (0.25, 0.25, 0.75, 0.75); against that box as the target, the box loss
    is 0, the IoU 1 and the classification loss :math:`\\log 2` for two classes:

    >>> from cvkit.models import localizer
    >>> model = localizer(2, backbone='miniresnet', input_shape=(32, 32, 3), alpha=0.25)
    >>> model.compile('adam', box_loss='l2', box_weight=1.0, run_eagerly=True)
    >>> x = np.zeros((2, 32, 32, 3), np.float32)
    >>> y = {'classifier': np.array([0, 1]), 'localizer': np.array([[0.25, 0.25, 0.75, 0.75]] * 2)}
    >>> r = model.evaluate(x, y, verbose=0, return_dict=True)
    >>> {k: round(float(v), 4) for k, v in sorted(r.items())}
    {'accuracy': 0.5, 'box_loss': 0.0, 'cls_loss': 0.6931, 'correct_localization': 0.5, 'loss': 0.6931, 'mean_iou': 1.0}
    """

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="adam", box_loss="l2", box_weight=1.0, cls_weight=1.0,
                iou_threshold=0.5, loss=None, **kwargs):
        """Configure training.

        Parameters
        ----------
        optimizer : str or keras.optimizers.Optimizer
        box_loss : {'l2', 'smooth_l1', 'giou'}
            The box regression loss :math:`\\ell_{box}`.
        box_weight : float >= 0
            :math:`\\alpha`, the weight of the box loss.
        cls_weight : float >= 0
            Weight of the classification loss.
        iou_threshold : float
            IoU of a correct localization (the ``correct_localization`` metric).
        **kwargs
            Passed to ``keras.Model.compile`` (``run_eagerly``, ``jit_compile``,
            ``steps_per_execution``). ``loss`` and ``metrics`` are fixed by this class.
        """
        if loss is not None:
            raise ValueError("LocalizationModel computes its own multitask loss: leave `loss` out "
                             "and use `box_loss`, `box_weight` and `cls_weight` instead.")
        if "metrics" in kwargs or "loss_weights" in kwargs:
            raise ValueError("LocalizationModel tracks accuracy, mean IoU and correct localization "
                             "itself: leave `metrics` and `loss_weights` out (use `box_weight`).")
        if not isinstance(box_loss, str) or box_loss not in BOX_LOSSES:
            raise ValueError(f"`box_loss` must be one of {sorted(BOX_LOSSES)}; got {box_loss!r}.")
        self.box_loss = box_loss
        self.box_weight = check_float(box_weight, "box_weight", minimum=0.0)
        self.cls_weight = check_float(cls_weight, "cls_weight", minimum=0.0)
        self.iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
        self._trackers = [keras.metrics.Mean(name="loss"), keras.metrics.Mean(name="cls_loss"),
                          keras.metrics.Mean(name="box_loss")]
        self._task_metrics = [ClassAccuracy(), BoxMeanIoU(),
                              CorrectLocalization(self.iou_threshold)]
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        if not getattr(self, "compiled", False) or not hasattr(self, "box_loss"):
            return {}
        return {"optimizer": keras.optimizers.serialize(self.optimizer),
                "box_loss": self.box_loss, "box_weight": self.box_weight,
                "cls_weight": self.cls_weight, "iou_threshold": self.iou_threshold}

    def compile_from_config(self, config):
        if not config:
            return
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"])
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return list(getattr(self, "_trackers", [])) + list(getattr(self, "_task_metrics", []))

    # ------------------------------------------------------------------ steps
    def _targets(self, y):
        if isinstance(y, dict):
            return y["classifier"], y["localizer"]
        if isinstance(y, (list, tuple)) and len(y) == 2:
            return y[0], y[1]
        raise ValueError("LocalizationModel needs targets {'classifier': labels, 'localizer': "
                         f"boxes}} or (labels, boxes); got {type(y).__name__}.")

    def _multitask_losses(self, y, y_pred, sample_weight, box_normalizer=None):
        labels, boxes = self._targets(y)
        return multitask_loss((labels, boxes), (y_pred[0], y_pred[1]), self.box_weight,
                              self.cls_weight, self.box_loss, sample_weight, box_normalizer)

    def _global_box_normalizer(self, y, n_replicas):
        """Under a distribution strategy: (boxes over all replicas) / replicas, at least 1/replicas.

        Each replica's box loss is then sum_i(loss_i) * replicas / total_boxes; after the division
        by the number of replicas and the sum of the replicas' gradients, every box of the global
        batch weighs 1 / total_boxes, exactly as on one device.
        """
        ctx = tf.distribute.get_replica_context()
        if n_replicas == 1 or ctx is None:
            return None
        _, boxes = self._targets(y)
        count = tf.reduce_sum(box_mask(tf.cast(boxes, self.compute_dtype)))
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, count)
        return tf.maximum(total, 1.0) / tf.cast(n_replicas, total.dtype)

    def _update_task_metrics(self, y, y_pred, sample_weight, total, l_cls, l_box):
        labels, boxes = self._targets(y)
        n = tf.shape(y_pred[0])[0]
        for tracker, value in zip(self._trackers, (total, l_cls, l_box)):
            tracker.update_state(value, sample_weight=n)
        for metric in self._task_metrics:
            metric.update_state((labels, boxes), (y_pred[0], y_pred[1]), sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        n_replicas = num_replicas()
        norm = self._global_box_normalizer(y, n_replicas)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            total, l_cls, l_box = self._multitask_losses(y, y_pred, sample_weight, norm)
            objective = total
            if self.losses:  # weight decay / activity regularisers of the layers
                objective = objective + tf.add_n(self.losses)
            # the gradients of the replicas are summed: divide so that they average
            objective = objective / tf.cast(n_replicas, objective.dtype)
            objective = self.optimizer.scale_loss(objective)
        grads = tape.gradient(objective, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_task_metrics(y, y_pred, sample_weight, total, l_cls, l_box)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        total, l_cls, l_box = self._multitask_losses(y, y_pred, sample_weight)
        return self._update_task_metrics(y, y_pred, sample_weight, total, l_cls, l_box)

    # ------------------------------------------------------------------ input checks
    def _check_xy(self, x, y, where):
        """Turn (labels, boxes) into the target dict and check counts and shapes of arrays."""
        if y is None:
            return y
        if isinstance(y, (list, tuple)):
            if len(y) != 2:
                raise ValueError(f"{where}: `y` must be (labels, boxes) or a dict with keys "
                                 f"'classifier' and 'localizer'; got a sequence of {len(y)}.")
            y = {"classifier": y[0], "localizer": y[1]}
        if not isinstance(y, dict) or set(y) != {"classifier", "localizer"}:
            got = sorted(y) if isinstance(y, dict) else type(y).__name__
            raise ValueError(f"{where}: `y` must be a dict with keys 'classifier' (labels) and "
                             f"'localizer' (boxes), or a tuple (labels, boxes); got {got}.")
        labels, boxes = y["classifier"], y["localizer"]
        if not all(isinstance(a, (np.ndarray, list, tf.Tensor)) for a in (labels, boxes)):
            return y
        labels = np.asarray(labels)
        boxes = np.asarray(boxes)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"{where}: the boxes (`y['localizer']`) must have shape (N, 4), "
                             f"normalised xyxy; got {boxes.shape}.")
        n_classes = self.outputs[0].shape[-1]
        one_hot = labels.ndim == 2 and labels.shape[1] == n_classes and n_classes > 1
        if not one_hot and labels.ndim not in (1,) and not (labels.ndim == 2
                                                            and labels.shape[1] == 1):
            raise ValueError(f"{where}: the labels (`y['classifier']`) must be class ids (N,) or "
                             f"one-hot rows (N, {n_classes}); got shape {labels.shape}.")
        n_x = None
        if isinstance(x, (np.ndarray, tf.Tensor)):
            n_x = int(x.shape[0])
        counts = {"images": n_x, "labels": len(labels), "boxes": len(boxes)}
        if len({c for c in counts.values() if c is not None}) > 1:
            raise ValueError(f"{where}: inconsistent numbers of samples: "
                             + ", ".join(f"{k}={v}" for k, v in counts.items() if v is not None)
                             + ". Every image needs one label and one box (NO_BOX if it has no "
                             "object).")
        if not one_hot and labels.size:
            hi = 2 if n_classes == 1 else n_classes
            if labels.min() < 0 or labels.max() >= hi:
                raise ValueError(f"{where}: labels must be class ids in [0, {hi - 1}] for this "
                                 f"model ({n_classes} output(s)); got values in "
                                 f"[{labels.min()}, {labels.max()}].")
        return y

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` after checking that images, labels and boxes match."""
        y = self._check_xy(x, y, "fit")
        vd = kwargs.get("validation_data")
        if isinstance(vd, (tuple, list)) and len(vd) in (2, 3):
            kwargs["validation_data"] = (vd[0], self._check_xy(vd[0], vd[1], "validation_data"),
                                         *vd[2:])
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.evaluate`` after the same checks as :meth:`fit`."""
        y = self._check_xy(x, y, "evaluate")
        return super().evaluate(x, y, *args, **kwargs)
