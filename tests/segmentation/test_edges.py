import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import data, filters

from cvkit.segmentation import (LAPLACIAN_4, LAPLACIAN_8, convolve, correlate, gaussian_blur,
                                gaussian_kernel, laplacian, laplacian_of_gaussian, sobel, sobel_x,
                                sobel_y, zero_crossings)

MODES = ["constant", "reflect", "mirror", "nearest", "wrap"]


@pytest.fixture(scope="module")
def img():
    return np.random.default_rng(0).random((23, 31))


def test_course_example_correlation():
    x = np.arange(9).reshape(3, 3)
    k = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(correlate(x, k, padding="valid"), [[19, 25], [37, 43]])
    padded = correlate(x, k, padding=1)
    # the red, green and yellow squares of the notes: 0, 9 and 37
    assert padded[0, 0] == 0 and padded[1, 0] == 9 and padded[2, 1] == 37
    # stride 3 down, 2 across with padding 1 (Dive into Deep Learning's figure)
    np.testing.assert_array_equal(correlate(x, k, stride=(3, 2), padding=1), [[0, 8], [6, 8]])


def test_convolution_flips_the_kernel():
    x = np.arange(9).reshape(3, 3)
    k = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(convolve(x, k, padding="valid"),
                                  correlate(x, k[::-1, ::-1], padding="valid"))
    assert not np.array_equal(convolve(x, k, padding="valid"), correlate(x, k, padding="valid"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 1)])
def test_same_padding_equals_scipy(img, mode, shape):
    k = np.random.default_rng(1).normal(size=shape)
    np.testing.assert_allclose(correlate(img, k, mode=mode), ndi.correlate(img, k, mode=mode),
                               atol=1e-12)
    np.testing.assert_allclose(convolve(img, k, mode=mode), ndi.convolve(img, k, mode=mode),
                               atol=1e-12)


def test_stride_subsamples_the_dense_result(img):
    k = np.random.default_rng(2).normal(size=(3, 3))
    dense = correlate(img, k, padding="valid")
    np.testing.assert_allclose(correlate(img, k, stride=2, padding="valid"), dense[::2, ::2])
    assert correlate(img, k, stride=(2, 3), padding=2).shape == ((23 + 4 - 3) // 2 + 1,
                                                                 (31 + 4 - 3) // 3 + 1)


def test_kernel_bad_input(img):
    with pytest.raises(ValueError, match="odd"):
        correlate(img, np.ones((2, 2)))  # even kernel with 'same'
    with pytest.raises(ValueError, match="empty"):
        correlate(img, np.ones((0, 3)))
    with pytest.raises(ValueError, match="kernel"):
        convolve(img, np.ones(3))
    with pytest.raises(ValueError, match="stride"):
        correlate(img, np.ones((3, 3)), stride=0)
    with pytest.raises(ValueError, match="padding"):
        correlate(img, np.ones((3, 3)), padding="full")
    with pytest.raises(ValueError, match="image"):
        correlate(np.zeros((2, 4, 4, 1)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel"):
        correlate(np.zeros((2, 2)), np.ones((3, 3)), padding="valid")


def test_sobel_conventions(img):
    np.testing.assert_allclose(sobel_x(img), 4 * filters.sobel_v(img), atol=1e-12)
    np.testing.assert_allclose(sobel_y(img), 4 * filters.sobel_h(img), atol=1e-12)
    np.testing.assert_allclose(sobel(img) / (4 * np.sqrt(2)), filters.sobel(img), atol=1e-12)
    np.testing.assert_allclose(sobel_x(img), ndi.sobel(img, axis=1), atol=1e-12)
    np.testing.assert_allclose(sobel_y(img), ndi.sobel(img, axis=0), atol=1e-12)
    # separable fast path == the hand correlation with the 3x3 kernel
    np.testing.assert_allclose(sobel_x(img), correlate(img, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                                                       mode="reflect"), atol=1e-12)


def test_sobel_sign_on_a_ramp():
    ramp = np.tile(np.linspace(0, 1, 10), (8, 1))  # brighter to the right
    assert np.all(sobel_x(ramp)[:, 1:-1] > 0) and np.allclose(sobel_y(ramp), 0)


def test_sobel_uint8_scaled_like_skimage():
    cam = data.camera()[::8, ::8]
    np.testing.assert_allclose(sobel(cam) / (4 * np.sqrt(2)), filters.sobel(cam), atol=1e-12)


def test_laplacian_kernels_of_the_notes(img):
    np.testing.assert_array_equal(LAPLACIAN_4, [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    np.testing.assert_array_equal(LAPLACIAN_8, [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_allclose(laplacian(img, 4), filters.laplace(img, ksize=3), atol=1e-12)
    np.testing.assert_allclose(laplacian(img, 4), -ndi.laplace(img), atol=1e-12)
    np.testing.assert_allclose(laplacian(img, 8), ndi.convolve(img, LAPLACIAN_8, mode="reflect"),
                               atol=1e-12)
    # a single bright pixel: the kernel itself appears (symmetric: no flip to worry about)
    d = np.zeros((5, 5))
    d[2, 2] = 1
    np.testing.assert_array_equal(laplacian(d, 8)[1:4, 1:4], LAPLACIAN_8)
    np.testing.assert_array_equal(laplacian(d, 4)[1:4, 1:4], LAPLACIAN_4)
    # flat and linear images have no second derivative
    lin = np.add.outer(np.arange(6.0), 2 * np.arange(7.0))
    assert np.allclose(laplacian(lin, 4)[1:-1, 1:-1], 0) and np.allclose(laplacian(lin, 8)[1:-1, 1:-1], 0)


def test_laplacian_bad_kernel(img):
    with pytest.raises(ValueError, match="kernel"):
        laplacian(img, 6)
    with pytest.raises(ValueError, match="odd"):
        laplacian(img, np.ones((2, 2)))


def test_gaussian_and_log_equal_scipy(img):
    np.testing.assert_allclose(gaussian_kernel(1.0).sum(), 1.0)
    for s in (0.7, 1.5, 3.0):
        np.testing.assert_allclose(gaussian_blur(img, s), ndi.gaussian_filter(img, s), atol=1e-12)
        np.testing.assert_allclose(laplacian_of_gaussian(img, s),
                                   -ndi.laplace(ndi.gaussian_filter(img, s)), atol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(img, 0.0)


def test_zero_crossings_brute_force():
    rng = np.random.default_rng(3)
    r = rng.normal(size=(9, 11))
    r[4, 5] = 0.0
    r[4, 4], r[4, 6] = -1.0, 1.0
    got = zero_crossings(r, threshold=0.3)
    want = np.zeros_like(got)
    H, W = r.shape
    for i in range(H):
        for j in range(W):
            for di, dj in ((0, 1), (1, 0)):
                i2, j2 = i + di, j + dj
                if i2 < H and j2 < W and r[i, j] * r[i2, j2] < 0 and abs(r[i, j] - r[i2, j2]) > 0.3:
                    if abs(r[i, j]) <= abs(r[i2, j2]):
                        want[i, j] = True
                    else:
                        want[i2, j2] = True
                i0, j0 = i - di, j - dj
                if (r[i, j] == 0 and 0 <= i0 and 0 <= j0 and i2 < H and j2 < W
                        and r[i0, j0] * r[i2, j2] < 0 and abs(r[i0, j0] - r[i2, j2]) > 0.3):
                    want[i, j] = True
    np.testing.assert_array_equal(got, want)
    assert got[4, 5]


def test_log_zero_crossings_find_a_step_edge():
    step = np.zeros((32, 32))
    step[:, 16:] = 1.0
    noisy = step + np.random.default_rng(0).normal(0, 0.2, step.shape)
    zc = zero_crossings(laplacian_of_gaussian(noisy, 2.0), threshold=0.01)
    cols = np.flatnonzero(zc[4:-4, 4:-4].mean(axis=0) > 0.5) + 4
    assert set(cols) <= {15, 16}
    # without smoothing, the noise makes zero-crossings everywhere
    raw = zero_crossings(laplacian(noisy), threshold=0.01)
    assert raw.mean() > 5 * zc.mean()


def test_zero_crossings_bad_input():
    with pytest.raises(ValueError, match="response"):
        zero_crossings(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="threshold"):
        zero_crossings(np.zeros((3, 3)), threshold=-1)
