"""Input normalisation: zero-centring, scaling, the AlexNet / VGG / ResNet schemes, PCA and whitening,
and the preprocessing each pretrained backbone expects.

Every normaliser is an object that is **fitted on the training split only** and then applied to
any split, so that no statistic of the validation or test data leaks into training:

>>> norm = ChannelStandardizer().fit(x_train)      # doctest: +SKIP
>>> x_train_n, x_test_n = norm.transform(x_train), norm.transform(x_test)   # doctest: +SKIP

- ``ZeroCenter``: :math:`x' = x - \\mu` per feature (pixel and channel);
- ``Standardizer``: :math:`x' = (x - \\mu) / \\sigma` per feature;
- ``MeanImage`` (AlexNet): subtract the mean image (H, W, C);
- ``ChannelMean`` (VGG): subtract 3 channel means;
- ``ChannelStandardizer`` (ResNet): subtract 3 channel means, divide by 3 channel stds;
- ``PCA``: decorrelate :math:`x' = (x - \\mu) U`, whiten :math:`x' = (x - \\mu) U \\Lambda^{-1/2}`.

Shown in ``notebooks/00_datasets_and_preprocessing.ipynb`` (including the data-leakage pitfall).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_float, check_int

__all__ = ["ZeroCenter", "Standardizer", "MeanImage", "ChannelMean", "ChannelStandardizer", "PCA",
           "BACKBONE_PREPROCESSING", "backbone_preprocessing", "preprocess_for_backbone"]


def _as_data(x, name="x", min_ndim=2):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}.")
    if arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must be a batch with at least {min_ndim} dimensions (N, ...); got "
                         f"shape {arr.shape}.")
    if arr.shape[0] < 1:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


class _Fitted:
    """Base: ``fit`` on the training split, ``transform`` any split, ``inverse_transform`` back."""

    _params: tuple = ()

    def __init__(self, eps=1e-8):
        self.eps = check_float(eps, "eps", minimum=0.0)
        self.sample_shape_ = None

    @property
    def fitted(self):
        return self.sample_shape_ is not None

    def fit_transform(self, x):
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def _check(self, x, name="x"):
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call .fit(x_train) first, on the "
                               "training split only.")
        x = _as_data(x, name)
        if x.shape[1:] != self.sample_shape_:
            raise ValueError(f"`{name}` must have samples of shape {self.sample_shape_} (what "
                             f"{type(self).__name__} was fitted on); got {x.shape[1:]}.")
        return x

    def __repr__(self):
        state = f"fitted on samples of shape {self.sample_shape_}" if self.fitted else "not fitted"
        return f"{type(self).__name__}({state})"


class _Scaled:
    """Shared by the standardisers: divide by the fitted std (a zero std only centres)."""

    def _scale(self):
        return np.where(self.std_ > 0, self.std_ + self.eps, 1.0)

    def transform(self, x):
        return (self._check(x) - self.mean_) / self._scale()

    def inverse_transform(self, x):
        return self._check(x) * self._scale() + self.mean_


class ZeroCenter(_Fitted):
    """Subtract the per-feature (per-pixel and channel) mean of the training data.

    .. math:: x' = x - \\mu, \\qquad \\mu = \\frac{1}{N} \\sum_{n=1}^{N} x_n
    """

    def fit(self, x):
        x = _as_data(x, "x")
        self.mean_ = x.mean(axis=0)
        self.sample_shape_ = x.shape[1:]
        return self

    def transform(self, x):
        return self._check(x) - self.mean_

    def inverse_transform(self, x):
        return self._check(x) + self.mean_


class Standardizer(_Scaled, ZeroCenter):
    """Zero-centre and scale each feature by its standard deviation on the training data.

    .. math:: x' = \\frac{x - \\mu}{\\sigma + \\epsilon}

    A feature that is constant in the training data (:math:`\\sigma = 0`) is only centred.
    """

    def fit(self, x):
        super().fit(x)
        x = _as_data(x, "x")
        self.std_ = x.std(axis=0)
        return self



class MeanImage(ZeroCenter):
    """AlexNet: subtract the mean image (H, W, C) of the training set (same as :class:`ZeroCenter`
    on images; the name says which scheme it is)."""

    def fit(self, x):
        x = _as_data(x, "x", min_ndim=4)
        return super().fit(x)


class ChannelMean(_Fitted):
    """VGG: subtract one mean per colour channel (3 numbers) computed on the training set.

    .. math:: x'_{c} = x_{c} - \\mu_c, \\qquad \\mu_c = \\operatorname{mean}_{n, i, j} x_{n, i, j, c}
    """

    def fit(self, x):
        x = _as_data(x, "x", min_ndim=4)
        self.mean_ = x.mean(axis=(0, 1, 2))
        self.sample_shape_ = x.shape[1:]
        return self

    def _check(self, x, name="x"):
        if not self.fitted:
            return super()._check(x, name)
        x = _as_data(x, name, min_ndim=4)
        if x.shape[-1] != self.sample_shape_[-1]:
            raise ValueError(f"`{name}` must have {self.sample_shape_[-1]} channels; got "
                             f"{x.shape[-1]}.")
        return x

    def transform(self, x):
        return self._check(x) - self.mean_

    def inverse_transform(self, x):
        return self._check(x) + self.mean_


class ChannelStandardizer(_Scaled, ChannelMean):
    """ResNet: subtract the channel means and divide by the channel standard deviations
    (6 numbers) of the training set.

    .. math:: x'_{c} = \\frac{x_{c} - \\mu_c}{\\sigma_c + \\epsilon}
    """

    def fit(self, x):
        super().fit(x)
        self.std_ = _as_data(x, "x", min_ndim=4).std(axis=(0, 1, 2))
        return self



class PCA(_Fitted):
    """PCA decorrelation and whitening of flattened samples.

    With the training covariance :math:`\\Sigma = \\frac{1}{N} X_c^\\top X_c = U \\Lambda U^\\top`
    (:math:`X_c` the centred data, one flattened sample per row):

    - ``whiten=False`` (decorrelation): :math:`x' = (x - \\mu) U` — the covariance of :math:`x'` is
      the diagonal :math:`\\Lambda`;
    - ``whiten=True``: :math:`x' = (x - \\mu) U (\\Lambda + \\epsilon)^{-1/2}` — covariance
      :math:`\\approx I`;
    - ``zca=True`` rotates the whitened data back, :math:`x' = (x - \\mu) U (\\Lambda +
      \\epsilon)^{-1/2} U^\\top`, which keeps the samples looking like images.

    Parameters
    ----------
    n_components : int, optional
        Keep the largest components only (not with ``zca``).
    whiten : bool
    zca : bool
    eps : float
        Added to the eigenvalues before the inverse square root (regularises tiny variances).
    """

    def __init__(self, n_components=None, whiten=False, zca=False, eps=1e-5):
        super().__init__(eps)
        self.n_components = None if n_components is None else check_int(n_components,
                                                                          "n_components", 1)
        self.whiten = bool(whiten)
        self.zca = bool(zca)
        if self.zca and self.n_components is not None:
            raise ValueError("`n_components` cannot be used with `zca=True` (ZCA keeps every "
                             "dimension); choose one.")

    def fit(self, x):
        x = _as_data(x, "x")
        flat = x.reshape(len(x), -1).astype(np.float64)
        d = flat.shape[1]
        if self.n_components is not None and self.n_components > d:
            raise ValueError(f"`n_components` must be <= the number of features {d}; got "
                             f"{self.n_components}.")
        self.mean_ = flat.mean(axis=0)
        xc = flat - self.mean_
        cov = xc.T @ xc / len(flat)
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1]
        evals, evecs = np.clip(evals[order], 0.0, None), evecs[:, order]
        # a deterministic sign per component (largest entry positive)
        signs = np.sign(evecs[np.abs(evecs).argmax(axis=0), np.arange(d)])
        evecs = evecs * np.where(signs == 0, 1.0, signs)
        k = self.n_components or d
        self.components_ = evecs[:, :k]
        self.explained_variance_ = evals[:k]
        self.sample_shape_ = x.shape[1:]
        return self

    def _matrix(self):
        m = self.components_
        if self.whiten or self.zca:
            m = m / np.sqrt(self.explained_variance_ + self.eps)
        if self.zca:
            m = m @ self.components_.T
        return m

    def transform(self, x):
        x = self._check(x)
        out = (x.reshape(len(x), -1) - self.mean_) @ self._matrix()
        if self.zca:
            out = out.reshape(x.shape)
        return out.astype(np.float32)

    def inverse_transform(self, z):
        z = np.asarray(z, np.float64)
        flat = z.reshape(len(z), -1)
        m = self._matrix()
        return (flat @ np.linalg.pinv(m) + self.mean_).reshape((len(z),) + self.sample_shape_)


#: what each supported backbone expects, for images given in [0, 1]
BACKBONE_PREPROCESSING = {
    "mobilenet": "scale to [-1, 1]: x * 2 - 1",
    "mobilenetv2": "scale to [-1, 1]: x * 2 - 1",
    "mobilenetv3small": "none: the model rescales internally (expects [0, 255])",
    "mobilenetv3large": "none: the model rescales internally (expects [0, 255])",
    "resnet50": "caffe: RGB -> BGR, x * 255 minus the ImageNet channel means (103.939, 116.779, "
                "123.68)",
    "vgg16": "caffe: RGB -> BGR, x * 255 minus the ImageNet channel means",
    "efficientnetb0": "none: the model rescales internally (expects [0, 255])",
    "densenet121": "torch: (x - ImageNet mean) / ImageNet std",
    "inceptionv3": "scale to [-1, 1]: x * 2 - 1",
}

_KERAS_MODULE = {
    "mobilenet": "mobilenet", "mobilenetv2": "mobilenet_v2", "mobilenetv3small": "mobilenet_v3",
    "mobilenetv3large": "mobilenet_v3", "resnet50": "resnet50", "vgg16": "vgg16",
    "efficientnetb0": "efficientnet", "densenet121": "densenet", "inceptionv3": "inception_v3",
}


def backbone_preprocessing(name):
    """The Keras ``preprocess_input`` of a pretrained backbone, adapted to images in [0, 1].

    Pretrained weights expect the exact preprocessing their authors used; the returned function
    multiplies by 255 and calls ``keras.applications.<module>.preprocess_input``.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONE_PREPROCESSING`.

    Returns
    -------
    callable
        ``f(images_in_0_1) -> preprocessed float32 images`` (NumPy or tensors).
    """
    key = check_choice(str(name).lower().replace("_", "").replace("-", ""), "name",
                       tuple(BACKBONE_PREPROCESSING))
    import keras

    module = getattr(keras.applications, _KERAS_MODULE[key])

    def preprocess(images):
        return module.preprocess_input(images * 255.0)

    preprocess.__name__ = f"preprocess_{key}"
    preprocess.__doc__ = BACKBONE_PREPROCESSING[key]
    return preprocess


def preprocess_for_backbone(images, name):
    """Apply :func:`backbone_preprocessing` of ``name`` to images in [0, 1] (or uint8)."""
    from ._validate import as_images, restore_rank

    x, single = as_images(images, "images")
    return restore_rank(np.asarray(backbone_preprocessing(name)(x), np.float32), single)
