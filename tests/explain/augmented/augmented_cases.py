"""Shared cases of the Augmented Grad-CAM tests: the image size and a few augmentations."""
import numpy as np

H, W = 48, 40

PARAMS = np.array([[0.0, 0.0, 0.0], [0.3, 5.5, -3.2], [-0.45, 0.0, 0.0], [0.0, 7.25, 2.5],
                   [1.2, -4.0, 6.0]], np.float32)
