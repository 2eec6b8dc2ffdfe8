import pytest


@pytest.fixture(scope="module")
def cnn():
    pytest.importorskip("keras")
    from inside_models import small_cnn

    return small_cnn()


@pytest.fixture(scope="module")
def nested():
    """MobileNetV2 (alpha 0.35) used as a layer inside an outer model: (model, backbone)."""
    pytest.importorskip("keras")
    from inside_models import nested_mobilenet

    return nested_mobilenet()
