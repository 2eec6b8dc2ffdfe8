r"""The Mask R-CNN model: backbone -> RPN -> proposals -> ROI Align -> box head and mask head, with
its own ``train_step`` (the five losses of :mod:`.losses`) and inference (:mod:`.inference`).

``model(images)`` returns the detections of a batch: ``boxes`` (B, D, 4) normalised xyxy,
``scores`` (B, D), ``classes`` (B, D) in 0..K-1 (-1 in empty rows), ``masks`` (B, D, H, W) bool
(the full-image masks) and ``num_detections`` (B,). Train with
``fit(instance_pipeline(data))``: targets ``{'boxes', 'labels', 'masks'}`` as
:func:`cvkit.datasets.instance_pipeline` yields them.

Notebook: ``notebooks/10_mask_rcnn.ipynb``.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..._validate import check_float, check_int
from ...models.blocks import num_replicas
from ..anchors import anchors as make_anchors
from ._checks import check_shape
from .heads import backbone_s8, box_head, roi_align_graph, rpn_head
from .inference import detect, paste_masks
from .losses import LOSS_NAMES, maskrcnn_losses
from .proposals import propose
from .targets import image_seeds, per_image_uniform, roi_targets, rpn_targets

__all__ = ["MaskRCNN", "mask_rcnn", "STRIDE"]

#: output stride of the backbone (pixels per feature cell)
STRIDE = 8


@keras.saving.register_keras_serializable(package="cvkit")
class MaskRCNN(keras.Model):
    """A small Mask R-CNN for square images (see :func:`mask_rcnn` for the arguments).

    Examples
    --------
    >>> model = mask_rcnn(2, image_size=32, width=4, rpn_hidden=8, box_hidden=8, mask_filters=4)
    >>> out = model(np.zeros((1, 32, 32, 3), np.float32))
    >>> sorted(out), tuple(out["masks"].shape)
    (['boxes', 'classes', 'masks', 'num_detections', 'scores'], (1, 16, 32, 32))
    """

    def __init__(self, num_classes=4, image_size=128, width=32, anchor_scales=(16, 24, 32, 48, 64),
                 anchor_ratios=(1.0,), rpn_hidden=128, box_hidden=256, mask_filters=64,
                 pre_nms=512, train_proposals=128, test_proposals=64, rpn_nms=0.7,
                 rois_per_image=32, roi_positive_fraction=0.33, score_threshold=0.5,
                 nms_threshold=0.3, max_detections=16, rpn_box_weight=10.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_int(num_classes, "num_classes", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=2 * STRIDE)
        if self.image_size % STRIDE:
            raise ValueError(f"`image_size` must be a multiple of the stride {STRIDE}; got "
                             f"{image_size}.")
        self.width = check_int(width, "width", minimum=1)
        self.anchor_scales = tuple(float(s) for s in anchor_scales)
        self.anchor_ratios = tuple(float(r) for r in anchor_ratios)
        self.anchor_boxes = make_anchors(self.image_size // STRIDE, STRIDE, self.anchor_scales,
                                         self.anchor_ratios)
        self.rpn_hidden, self.box_hidden, self.mask_filters = (
            check_int(v, k, minimum=1) for v, k in ((rpn_hidden, "rpn_hidden"),
                                                    (box_hidden, "box_hidden"),
                                                    (mask_filters, "mask_filters")))
        self.pre_nms, self.train_proposals, self.test_proposals, self.rois_per_image = (
            check_int(v, k, minimum=1) for v, k in (
                (pre_nms, "pre_nms"), (train_proposals, "train_proposals"),
                (test_proposals, "test_proposals"), (rois_per_image, "rois_per_image")))
        self.max_detections = check_int(max_detections, "max_detections", minimum=1)
        self.rpn_nms = check_float(rpn_nms, "rpn_nms", 0.0, 1.0)
        self.roi_positive_fraction = check_float(roi_positive_fraction, "roi_positive_fraction",
                                                 0.0, 1.0, strict_min=True)
        if int(self.rois_per_image * self.roi_positive_fraction) < 1:
            raise ValueError("`rois_per_image * roi_positive_fraction` must allow at least one "
                             f"positive ROI; got {rois_per_image} * {roi_positive_fraction}.")
        self.score_threshold = check_float(score_threshold, "score_threshold", 0.0, 1.0)
        self.nms_threshold = check_float(nms_threshold, "nms_threshold", 0.0, 1.0)
        self.rpn_box_weight = check_float(rpn_box_weight, "rpn_box_weight", minimum=0.0)
        self._build_networks()
        self.trackers = [keras.metrics.Mean(name="loss")] + [
            keras.metrics.Mean(name=f"{k}_loss") for k in LOSS_NAMES]

    def _build_networks(self):
        from ...models import mask_head

        s = self.image_size
        self.backbone = backbone_s8((s, s, 3), self.width)
        channels = int(self.backbone.output.shape[-1])
        self.n_anchors = len(self.anchor_scales) * len(self.anchor_ratios)
        self.rpn = rpn_head(channels, self.n_anchors, self.rpn_hidden)
        self.box_head = box_head(7, channels, self.num_classes, self.box_hidden)
        self.mask_head = mask_head((14, 14, channels), self.num_classes, self.mask_filters)
        self.built = True

    def build(self, input_shape=None):
        """The networks are built in ``__init__``; nothing left to create."""
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in (
            "num_classes", "image_size", "width", "anchor_scales", "anchor_ratios", "rpn_hidden",
            "box_hidden", "mask_filters", "pre_nms", "train_proposals", "test_proposals",
            "rpn_nms", "rois_per_image", "roi_positive_fraction", "score_threshold",
            "nms_threshold", "max_detections", "rpn_box_weight")})
        return config

    # ------------------------------------------------------------------ stages
    def rpn_outputs(self, images, training=False):
        """Backbone features (B, h, w, C), objectness logits (B, A) and deltas (B, A, 4)."""
        images = check_shape(images, "images", 4, 3)
        if tuple(images.shape[1:3]) not in ((self.image_size,) * 2, (None, None)):
            raise ValueError(f"`images` must be (B, {self.image_size}, {self.image_size}, 3), the "
                             f"size this model was built for; got shape {tuple(images.shape)}.")
        features = self.backbone(tf.cast(images, tf.float32), training=training)
        logits, deltas = self.rpn(features, training=training)
        n, a = tf.shape(logits)[0], int(self.anchor_boxes.shape[0])
        return features, tf.reshape(logits, (n, a)), tf.reshape(deltas, (n, a, 4))

    def proposals(self, logits, deltas, training=False):
        """The proposal layer (:func:`propose`): boxes, scores and valid flags per image."""
        post = self.train_proposals if training else self.test_proposals
        boxes, scores, valid = propose(tf.stop_gradient(logits), tf.stop_gradient(deltas),
                                       self.anchor_boxes, self.image_size, self.pre_nms, post,
                                       self.rpn_nms)
        return boxes, scores, valid

    def _pooled(self, features, rois, size):
        n, r = tf.shape(rois)[0], tf.shape(rois)[1]
        idx = tf.repeat(tf.range(n), r)
        return roi_align_graph(features, tf.reshape(rois, (-1, 4)), idx, size, 1.0 / STRIDE, 2)

    def head_outputs(self, features, rois, training=False):
        """Class logits (B, R, K + 1) and per-class deltas (B, R, K + 1, 4) of the box head."""
        n, r = tf.shape(rois)[0], tf.shape(rois)[1]
        logits, deltas = self.box_head(self._pooled(features, rois, 7), training=training)
        return (tf.reshape(logits, (n, r, self.num_classes + 1)),
                tf.reshape(deltas, (n, r, self.num_classes + 1, 4)))

    def mask_outputs(self, features, rois, training=False):
        """Mask logits (B, R, 28, 28, K) of the mask head."""
        n, r = tf.shape(rois)[0], tf.shape(rois)[1]
        logits = self.mask_head(self._pooled(features, rois, 14), training=training)
        return tf.reshape(logits, (n, r, 28, 28, self.num_classes))

    def call(self, images, training=False):
        features, logits, deltas = self.rpn_outputs(images, training=False)
        rois, _, valid = self.proposals(logits, deltas, training=False)
        cls_logits, box_deltas = self.head_outputs(features, rois)
        boxes, scores, classes, keep = detect(cls_logits, box_deltas, rois, valid,
                                              self.image_size, self.score_threshold,
                                              self.nms_threshold, self.max_detections)
        mask_logits = self.mask_outputs(features, boxes)
        channel = tf.transpose(mask_logits, [0, 1, 4, 2, 3])
        probs = tf.sigmoid(tf.gather(channel, tf.maximum(classes, 0), batch_dims=2))
        masks = paste_masks(probs, boxes, self.image_size) & keep[:, :, None, None]
        return {"boxes": boxes / float(self.image_size), "scores": scores, "classes": classes,
                "masks": masks, "num_detections": tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)}

    # ------------------------------------------------------------------ training
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configure training: only the optimizer and ``keras.Model.compile``'s run options;
        the losses are Mask R-CNN's own."""
        if loss is not None or metrics is not None:
            raise ValueError("MaskRCNN computes its own five losses: leave `loss` and `metrics` "
                             "out.")
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return {}
        return {"optimizer": keras.optimizers.serialize(self.optimizer)}

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(keras.optimizers.deserialize(config["optimizer"]))
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return list(getattr(self, "trackers", []))

    def _ground_truth(self, y):
        if not isinstance(y, dict) or not {"boxes", "labels", "masks"} <= set(y):
            got = sorted(y) if isinstance(y, dict) else type(y).__name__
            raise ValueError("MaskRCNN needs targets {'boxes', 'labels', 'masks'} (as "
                             f"cvkit.datasets.instance_pipeline yields them); got {got}.")
        boxes = check_shape(y["boxes"], "y['boxes']", 3, 4)
        labels = tf.cast(check_shape(y["labels"], "y['labels']", 2), tf.int32)
        masks = check_shape(y["masks"], "y['masks']", 4)
        s = self.image_size
        if tuple(masks.shape[2:]) not in ((s, s), (None, None)):
            raise ValueError(f"y['masks'] must be (B, M, {s}, {s}), one mask per object at the "
                             f"image size; got shape {tuple(masks.shape)}.")
        tf.debugging.assert_less(labels, self.num_classes, message=(
            f"y['labels'] must be class ids 0..{self.num_classes - 1} (-1 for an empty slot)"))
        return tf.cast(boxes, tf.float32) * float(s), labels, masks

    def compute_losses(self, images, y, step=0, training=False):
        """The five losses (dict) of a batch against its ground truth ``y``."""
        gt_boxes, gt_labels, gt_masks = self._ground_truth(y)
        features, logits, deltas = self.rpn_outputs(images, training=training)
        seeds = image_seeds(images, step)
        r_anchor = per_image_uniform(seeds, int(self.anchor_boxes.shape[0]))
        rpn_labels, rpn_deltas = rpn_targets(self.anchor_boxes, gt_boxes, gt_labels >= 0,
                                             r_anchor)
        proposals, _, valid = self.proposals(logits, deltas, training=True)
        n_cand = self.train_proposals + int(gt_labels.shape[1])
        targets = roi_targets(proposals, valid, gt_boxes, gt_labels, gt_masks,
                              per_image_uniform(seeds + 1, n_cand), self.rois_per_image,
                              self.roi_positive_fraction)
        rois = tf.stop_gradient(targets["rois"])
        cls_logits, box_deltas = self.head_outputs(features, rois, training=training)
        n_pos = int(self.rois_per_image * self.roi_positive_fraction)
        mask_logits = self.mask_outputs(features, rois[:, :n_pos], training=training)
        return maskrcnn_losses(
            {"logits": logits, "deltas": deltas, "labels": rpn_labels, "targets": rpn_deltas},
            {"cls_logits": cls_logits, "box_deltas": box_deltas, "mask_logits": mask_logits},
            targets, self.rpn_box_weight)

    def _report(self, losses):
        total = tf.add_n([losses[k] for k in LOSS_NAMES])
        for tracker, value in zip(self.trackers, [total] + [losses[k] for k in LOSS_NAMES]):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.trackers}

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        n_replicas = num_replicas()
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, y, self.optimizer.iterations, training=True)
            objective = tf.add_n([losses[k] for k in LOSS_NAMES])
            if self.losses:
                objective = objective + tf.add_n(self.losses)
            # the replicas' gradients are summed: divide so that they average
            objective = self.optimizer.scale_loss(objective / n_replicas)
        grads = tape.gradient(objective, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._report(losses)

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._report(self.compute_losses(x, y, 0, training=False))

    # ------------------------------------------------------------------ teaching
    def stages(self, images):
        """Every stage of the pipeline on a batch, as NumPy arrays, for the notebook: ``anchors``
        (A, 4) px, ``objectness`` (B, A) probabilities, ``proposals`` (B, P, 4) px after NMS with
        ``proposal_scores`` and ``proposal_valid``, ``class_probs`` (B, P, K + 1) of the box head
        on the proposals, and the detections of ``model(images)``."""
        images = tf.convert_to_tensor(images, tf.float32)
        features, logits, deltas = self.rpn_outputs(images)
        rois, scores, valid = self.proposals(logits, deltas)
        cls_logits, _ = self.head_outputs(features, rois)
        out = {"anchors": self.anchor_boxes, "objectness": tf.sigmoid(logits).numpy(),
               "proposals": rois.numpy(), "proposal_scores": scores.numpy(),
               "proposal_valid": valid.numpy(),
               "class_probs": tf.nn.softmax(cls_logits).numpy()}
        out.update({k: np.asarray(v) for k, v in self(images).items()})
        return out


def mask_rcnn(num_classes=4, image_size=128, **kwargs):
    """Build a :class:`MaskRCNN`.

    Parameters
    ----------
    num_classes : int
        Object classes K (the background is added: the box head has K + 1 logits).
    image_size : int
        Side of the square input images, a multiple of 8.
    width : int
        Stem channels of :func:`backbone_s8` (features have ``4 * width``).
    anchor_scales, anchor_ratios : sequences of float
        The anchors of every stride-8 cell (:func:`cvkit.detection.anchors`); the default 16-64 px
        at ratio 1 suits ``instances`` (square-ish boxes of 14-60 px).
    rpn_hidden, box_hidden, mask_filters : int
        Widths of the RPN conv, the box head's FC layers and the mask head's convs.
    pre_nms, train_proposals, test_proposals, rpn_nms
        The proposal layer: top anchors before NMS, proposals kept after NMS in training and at
        test time, NMS IoU.
    rois_per_image, roi_positive_fraction
        The ROI sampler (32 ROIs, at most a third positive, as matterport's shapes sample).
    score_threshold, nms_threshold, max_detections
        Inference: minimum class probability, per-class NMS IoU, detections per image.
    rpn_box_weight : float
        :math:`\\lambda` of the RPN box loss.

    Returns
    -------
    MaskRCNN

    Examples
    --------
    >>> model = mask_rcnn(2, image_size=32, width=4, rpn_hidden=8, box_hidden=8, mask_filters=4)
    >>> model.anchor_boxes.shape, model.backbone.output.shape
    ((80, 4), (None, 4, 4, 16))
    """
    return MaskRCNN(num_classes=num_classes, image_size=image_size, **kwargs)
