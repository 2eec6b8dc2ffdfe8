"""Input normalisation: zero-centring, scaling, the AlexNet / VGG / ResNet schemes, PCA and whitening,
and the preprocessing each pretrained backbone expects.

Every normaliser is an object that is **fitted on the training split only** and then applied to
any split, so that no statistic of the validation or test data leaks into training:

>>> rng = np.random.default_rng(0)
>>> x_train, x_test = rng.random((8, 4, 4, 3)), rng.random((2, 4, 4, 3))
>>> norm = ChannelStandardizer().fit(x_train)
>>> x_train_n, x_test_n = norm.transform(x_train), norm.transform(x_test)
>>> bool(np.allclose(x_train_n.mean(axis=(0, 1, 2)), 0.0))   # exactly centred: the fitted split
True

- ``ZeroCenter``: :math:`x' = x - \\mu` per feature (pixel and channel);
- ``Standardizer``: :math:`x' = (x - \\mu) / \\sigma` per feature;
- ``MeanImage`` (AlexNet): subtract the mean image (H, W, C);
- ``ChannelMean`` (VGG): subtract 3 channel means;
- ``ChannelStandardizer`` (ResNet): subtract 3 channel means, divide by 3 channel stds;
- ``PCA``: decorrelate :math:`x' = (x - \\mu) U`, whiten :math:`x' = (x - \\mu) U \\Lambda^{-1/2}`;
- ``CorrelationSelector``: keep the :math:`k` features most correlated with the labels (a step
  that learns from the labels, so it must be fitted inside each training fold).

Shown in ``notebooks/00_datasets_and_preprocessing.ipynb`` (including the data-leakage pitfall).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_bool, check_choice, check_float, check_int, to_numpy

__all__ = ["ZeroCenter", "Standardizer", "MeanImage", "ChannelMean", "ChannelStandardizer", "PCA",
           "CorrelationSelector", "BACKBONE_PREPROCESSING", "backbone_preprocessing",
           "preprocess_for_backbone"]


def _as_data(x, name="x", min_ndim=2):
    x = to_numpy(x)
    arr = np.asarray(x)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be a real numeric array; got dtype {arr.dtype}.")
    if arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must be a batch with at least {min_ndim} dimensions (N, ...); got "
                         f"shape {arr.shape}.")
    if arr.shape[0] < 1:
        raise ValueError(f"`{name}` is empty: shape {arr.shape}.")
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def _stat(x, fn, axis):
    """``fn(x, axis)`` accumulated in float64 (squares of large float32 values overflow: the std
    of values around 1e20 would be inf), returned in ``x``'s dtype."""
    return fn(x, axis=axis, dtype=np.float64).astype(x.dtype)


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

    Attributes
    ----------
    mean_ : np.ndarray, the shape of one sample
        :math:`\\mu`, fitted on the training split.

    Examples
    --------
    >>> zc = ZeroCenter().fit(np.array([[1., 2.], [3., 6.]]))
    >>> zc
    ZeroCenter(fitted on samples of shape (2,))
    >>> zc.mean_, zc.transform([[2., 5.]]), zc.inverse_transform([[0., 1.]])
    (array([2., 4.]), array([[0., 1.]]), array([[2., 5.]]))
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

    Parameters
    ----------
    eps : float
        :math:`\\epsilon`, added to :math:`\\sigma` (1e-8).

    Attributes
    ----------
    mean_, std_ : np.ndarray, the shape of one sample
        :math:`\\mu` and :math:`\\sigma`, fitted on the training split.

    Examples
    --------
    The second feature is constant (:math:`\\sigma = 0`), so it is only centred:

    >>> x_train = np.array([[1., 5.], [3., 5.]])
    >>> st = Standardizer().fit(x_train)
    >>> st.mean_, st.std_
    (array([2., 5.]), array([1., 0.]))
    >>> np.round(st.transform(x_train), 6)
    array([[-1.,  0.],
           [ 1.,  0.]])
    """

    def fit(self, x):
        super().fit(x)
        self.std_ = _stat(_as_data(x, "x"), np.std, 0)
        return self



class MeanImage(ZeroCenter):
    """AlexNet: subtract the mean image (H, W, C) of the training set (same as :class:`ZeroCenter`
    on images; the name says which scheme it is).

    .. math:: x'_{ijc} = x_{ijc} - \\mu_{ijc}, \\qquad \\mu_{ijc} = \\frac{1}{N} \\sum_n x_{n,ijc}

    Examples
    --------
    >>> x_train = np.zeros((2, 2, 2, 3))
    >>> x_train[1] = 1.0
    >>> x_train[1, 0, 0] = 3.0        # one bright pixel in the second image
    >>> mi = MeanImage().fit(x_train)
    >>> mi.mean_.shape                # one mean per pixel and channel
    (2, 2, 3)
    >>> mi.mean_[..., 0]
    array([[1.5, 0.5],
           [0.5, 0.5]])
    """

    def fit(self, x):
        x = _as_data(x, "x", min_ndim=4)
        return super().fit(x)


class ChannelMean(_Fitted):
    """VGG: subtract one mean per colour channel (3 numbers) computed on the training set.

    .. math:: x'_{c} = x_{c} - \\mu_c, \\qquad \\mu_c = \\operatorname{mean}_{n, i, j} x_{n, i, j, c}

    Examples
    --------
    Two 2 x 2 images: red is 0.5 everywhere, green 0, blue 0 in the first image and 1 in the
    second:

    >>> x_train = np.zeros((2, 2, 2, 3), np.float32)
    >>> x_train[..., 0] = 0.5
    >>> x_train[1, ..., 2] = 1.0
    >>> cm = ChannelMean().fit(x_train)
    >>> cm.mean_
    array([0.5, 0. , 0.5], dtype=float32)
    >>> cm.transform(x_train)[1, 0, 0]
    array([0. , 0. , 0.5], dtype=float32)
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

    A channel that is constant in the training data (:math:`\\sigma_c = 0`) is only centred.

    Examples
    --------
    The images of :class:`ChannelMean`'s example: blue has mean 0.5 and std 0.5, so it becomes
    -1 and 1; red and green are constant and only centred:

    >>> x_train = np.zeros((2, 2, 2, 3), np.float32)
    >>> x_train[..., 0] = 0.5
    >>> x_train[1, ..., 2] = 1.0
    >>> cs = ChannelStandardizer().fit(x_train)
    >>> cs.std_
    array([0. , 0. , 0.5], dtype=float32)
    >>> cs.transform(x_train)[:, 0, 0]
    array([[ 0.,  0., -1.],
           [ 0.,  0.,  1.]], dtype=float32)
    """

    def fit(self, x):
        super().fit(x)
        self.std_ = _stat(_as_data(x, "x", min_ndim=4), np.std, (0, 1, 2))
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
        Keep the largest components only (not with ``zca``). By default all
        :math:`\\min(N, D)` components with a variance are kept: with fewer samples than features
        (20 images of 64 x 64 x 3) the data span at most N directions, which the SVD of the centred
        data gives without the D x D covariance; ``zca`` then whitens within that span.
    whiten : bool
    zca : bool
    eps : float
        Added to the eigenvalues before the inverse square root (regularises tiny variances).

    Attributes
    ----------
    mean_ : np.ndarray (D,)
    components_ : np.ndarray (D, k)
        The columns of :math:`U`, largest variance first; each column's largest entry is positive.
    explained_variance_ : np.ndarray (k,)
        The eigenvalues :math:`\\Lambda`.

    Examples
    --------
    Four points whose covariance is :math:`\\begin{bmatrix}2.5 & 1.5\\\\ 1.5 & 2.5\\end{bmatrix}`:
    eigenvalue 4 along the diagonal :math:`(1, 1)/\\sqrt 2`, 1 along :math:`(1, -1)/\\sqrt 2`.

    >>> x = np.array([[2., 2.], [-2., -2.], [1., -1.], [-1., 1.]])
    >>> pca = PCA().fit(x)
    >>> pca.explained_variance_
    array([4., 1.])
    >>> np.round(pca.transform(x), 4) + 0.0  # decorrelated: coordinates along U (+ 0.0: no -0.)
    array([[ 2.8284,  0.    ],
           [-2.8284,  0.    ],
           [ 0.    ,  1.4142],
           [ 0.    , -1.4142]], dtype=float32)

    Whitening divides each coordinate by :math:`\\sqrt{\\lambda}` (2 and 1): the covariance
    becomes the identity.

    >>> w = PCA(whiten=True).fit_transform(x)
    >>> np.round(w.T @ w / len(w), 4)
    array([[1., 0.],
           [0., 1.]], dtype=float32)

    One component keeps the diagonal only; the way back loses the rest:

    >>> pca1 = PCA(n_components=1).fit(x)
    >>> np.round(pca1.inverse_transform(pca1.transform(x)), 4) + 0.0
    array([[ 2.,  2.],
           [-2., -2.],
           [ 0.,  0.],
           [ 0.,  0.]])
    """

    def __init__(self, n_components=None, whiten=False, zca=False, eps=1e-5):
        super().__init__(eps)
        self.n_components = None if n_components is None else check_int(n_components,
                                                                          "n_components", 1)
        self.whiten = check_bool(whiten, "whiten")
        self.zca = check_bool(zca, "zca")
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
        # the SVD of the centred data, X_c = U S V^T, gives the eigenvectors V and eigenvalues
        # S^2 / N of the covariance without forming the D x D matrix (N << D for images)
        _, sv, vt = np.linalg.svd(xc, full_matrices=False)
        evals, evecs = sv ** 2 / len(flat), vt.T
        # a deterministic sign per component (largest entry positive)
        signs = np.sign(evecs[np.abs(evecs).argmax(axis=0), np.arange(evecs.shape[1])])
        evecs = evecs * np.where(signs == 0, 1.0, signs)
        k = self.n_components or evecs.shape[1]
        self.components_ = evecs[:, :k]
        self.explained_variance_ = evals[:k]
        self.sample_shape_ = x.shape[1:]
        return self

    def _scale(self):
        """The factor applied to each coordinate along U: 1, or the whitening :math:`(\\Lambda +
        \\epsilon)^{-1/2}`."""
        if self.whiten or self.zca:
            return 1.0 / np.sqrt(self.explained_variance_ + self.eps)
        return np.ones_like(self.explained_variance_)

    def transform(self, x):
        x = self._check(x)
        out = ((x.reshape(len(x), -1) - self.mean_) @ self.components_) * self._scale()
        if self.zca:
            out = (out @ self.components_.T).reshape(x.shape)
        return out.astype(np.float32)

    def inverse_transform(self, z):
        z = np.asarray(to_numpy(z), np.float64)
        flat = z.reshape(len(z), -1)
        if self.zca:
            flat = flat @ self.components_
        back = (flat / self._scale()) @ self.components_.T
        return (back + self.mean_).reshape((len(z),) + self.sample_shape_)


class CorrelationSelector(_Fitted):
    """Keep the ``k`` features most correlated with the labels (feature selection by correlation).

    For every feature :math:`j` (pixels and channels flattened) the Pearson correlation with the
    target :math:`y` over the :math:`N` training samples is

    .. math:: r_j = \\frac{\\sum_{n} (x_{nj} - \\bar{x}_j)(y_n - \\bar{y})}
              {\\sqrt{\\sum_{n} (x_{nj} - \\bar{x}_j)^2} \\, \\sqrt{\\sum_{n} (y_n - \\bar{y})^2}}

    and the ``k`` features with the largest :math:`|r_j|` are kept, in decreasing :math:`|r_j|`
    (ties go to the lower index). A feature that is constant on the training data has
    :math:`r_j = 0`.

    Unlike the normalisers of this module, this step reads the labels: it is part of training.
    Fitted on the whole data set before a split or a cross-validation, it picks the features that
    happen to agree with the held-out labels as well, and the held-out score is optimistic (on data
    with no signal at all, far above chance). Fit it on each training fold only; the demonstration
    is in ``notebooks/00_datasets_and_preprocessing.ipynb``, section 5.

    Parameters
    ----------
    k : int >= 1
        Number of features to keep (at most the number of features).

    Attributes
    ----------
    correlation_ : np.ndarray, shape (D,)
        :math:`r_j` of every flattened feature on the training data.
    indices_ : np.ndarray of int, shape (k,)
        The kept features (flat indices), most correlated first.

    Examples
    --------
    >>> x = np.array([[0., 5., 1.], [1., 5., 0.], [2., 5., 1.], [3., 5., 0.]])
    >>> y = np.array([0, 0, 1, 1])
    >>> sel = CorrelationSelector(k=1).fit(x, y)
    >>> sel.correlation_.round(3)
    array([0.894, 0.   , 0.   ])
    >>> sel.transform(x)[:, 0]
    array([0., 1., 2., 3.])
    """

    def __init__(self, k):
        super().__init__()
        self.k = check_int(k, "k", 1)

    def fit(self, x, y):
        """Compute :math:`r_j` on the training split ``x`` (N, ...) with labels ``y`` (N,)."""
        x = _as_data(x, "x")
        flat = x.reshape(len(x), -1).astype(np.float64)
        y = _as_target(y, len(flat))
        if self.k > flat.shape[1]:
            raise ValueError(f"`k` must be <= the number of features {flat.shape[1]}; got "
                             f"{self.k}.")
        xc = flat - flat.mean(axis=0)
        yc = y - y.mean()
        den = np.sqrt((xc ** 2).sum(axis=0)) * np.sqrt((yc ** 2).sum())
        self.correlation_ = np.where(den > 0, xc.T @ yc / np.where(den > 0, den, 1.0), 0.0)
        self.indices_ = np.argsort(-np.abs(self.correlation_), kind="stable")[:self.k]
        self.sample_shape_ = x.shape[1:]
        return self

    def fit_transform(self, x, y):
        """``fit(x, y)`` then ``transform(x)``."""
        return self.fit(x, y).transform(x)

    def transform(self, x):
        """The kept features of any split, shape (N, k)."""
        x = self._check(x)
        return x.reshape(len(x), -1)[:, self.indices_]


def _as_target(y, n):
    y = to_numpy(y)
    arr = np.asarray(y)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"`y` must hold numeric labels or targets; got dtype {arr.dtype}.")
    if arr.shape != (n,):
        raise ValueError(f"`y` must hold one label per sample of `x`, shape ({n},); got shape "
                         f"{arr.shape}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("`y` contains NaN or infinite values.")
    if np.ptp(arr) == 0:
        raise ValueError("`y` is constant, so no feature can correlate with it; fit on data with "
                         "at least two classes (or two target values).")
    return arr


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
    multiplies by 255 and calls ``keras.applications.<module>.preprocess_input``. uint8 images
    (NumPy or tensors) are already in [0, 255] and are passed on as float32 without the factor.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONE_PREPROCESSING`.

    Returns
    -------
    callable
        ``f(images_in_0_1) -> preprocessed float32 images`` (NumPy or tensors).

    Examples
    --------
    >>> f = backbone_preprocessing('mobilenetv2')
    >>> f.__name__, f.__doc__
    ('preprocess_mobilenetv2', 'scale to [-1, 1]: x * 2 - 1')
    >>> f(np.array([0.0, 0.5, 1.0]))
    array([-1.,  0.,  1.])
    >>> np.asarray(f(np.array([0, 255], np.uint8)))       # uint8 is not scaled by 255 twice
    array([-1.,  1.], dtype=float32)
    """
    key = check_choice(str(name).lower().replace("_", "").replace("-", ""), "name",
                       tuple(BACKBONE_PREPROCESSING))
    import keras

    module = getattr(keras.applications, _KERAS_MODULE[key])

    def preprocess(images):
        # uint8 images are already in [0, 255]: scaling them by 255 again would saturate everything
        if keras.backend.standardize_dtype(getattr(images, "dtype", "float32")) == "uint8":
            x = (images.astype(np.float32) if isinstance(images, np.ndarray)
                 else keras.ops.cast(images, "float32"))
            return module.preprocess_input(x)
        return module.preprocess_input(images * 255.0)

    preprocess.__name__ = f"preprocess_{key}"
    preprocess.__doc__ = BACKBONE_PREPROCESSING[key]
    return preprocess


def preprocess_for_backbone(images, name):
    """Apply :func:`backbone_preprocessing` of ``name`` to images in [0, 1] (or uint8).

    Parameters
    ----------
    images : array (N, H, W, 3) or (H, W, 3), floats in [0, 1] or uint8
    name : str, one of :data:`BACKBONE_PREPROCESSING` (case, ``_`` and ``-`` are ignored)

    Returns
    -------
    np.ndarray float32, the shape of ``images``

    Examples
    --------
    ResNet50 ('caffe'): a pure red pixel becomes BGR times 255 minus the ImageNet means
    (103.939, 116.779, 123.68):

    >>> preprocess_for_backbone(np.array([[[1.0, 0.0, 0.0]]]), 'resnet50')
    array([[[-103.939, -116.779,  131.32 ]]], dtype=float32)

    MobileNetV2: a white uint8 image maps to 1:

    >>> preprocess_for_backbone(np.full((2, 2, 3), 255, np.uint8), 'mobilenet_v2')[0, 0]
    array([1., 1., 1.], dtype=float32)
    """
    from ._validate import as_images, restore_rank

    x, single = as_images(images, "images")
    return restore_rank(np.asarray(backbone_preprocessing(name)(x), np.float32), single)
