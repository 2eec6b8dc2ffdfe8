import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_shapes():
    """A small synthetic dataset shared by the tests (64 px, 32 images)."""
    from cvkit.datasets import shapes

    return shapes(32, image_size=64, seed=123)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Property-based tests (Hypothesis) draw the same examples on every run: a CI run that passes here
# passes on a fresh clone (edit the profile to explore new examples locally).
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("cvkit", derandomize=True, database=None)
    _hypothesis_settings.load_profile("cvkit")
except ImportError:   # Hypothesis is a test dependency (requirements.txt)
    pass
