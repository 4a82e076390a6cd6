"""The two MNIST network architectures of the tutorials, in plain Keras 3 (any backend).

Both take the 784 scaled pixels of a digit (the same input as the logistic regression, so one
signature and one client serve every MNIST model) and reshape them to 28x28x1 inside the model.
"""

from __future__ import annotations

from typing import Literal

import keras
from keras import layers

Architecture = Literal["cnn", "lenet"]
ARCHITECTURES: tuple[Architecture, ...] = ("cnn", "lenet")
N_PIXELS = 784
N_CLASSES = 10
# Keras defaults to 0.99, which needs ~500 steps before the moving statistics used at
# inference settle; on the 4,000-digit sample (29 steps an epoch) validation stays at chance
# for the first epochs and early stopping fires on noise. 0.9 settles within one epoch.
BN_MOMENTUM = 0.9


def _pixels_input() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    pixels = keras.Input(shape=(N_PIXELS,), name="pixels")
    return pixels, layers.Reshape((28, 28, 1), name="image")(pixels)


def build_cnn() -> keras.Model:
    """The deep CNN of the AmlCompute tutorial (>99% on full MNIST)."""
    pixels, x = _pixels_input()
    for filters in (64, 64):
        x = layers.Conv2D(filters, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    for filters in (128, 128):
        x = layers.Conv2D(filters, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.Conv2D(256, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.Dense(512, activation="relu")(x)
    outputs = layers.Dense(N_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, outputs, name="mnist_cnn")


def build_lenet() -> keras.Model:
    """LeNet-5 as the TensorBoard tutorial builds it: tanh, 6 and 16 5x5 filters, 120 and 84."""
    pixels, x = _pixels_input()
    x = layers.Conv2D(6, (5, 5), activation="tanh")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Conv2D(16, (5, 5), activation="tanh")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="tanh")(x)
    x = layers.Dense(84, activation="tanh")(x)
    outputs = layers.Dense(N_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, outputs, name="mnist_lenet")


def build(architecture: Architecture, learning_rate: float) -> keras.Model:
    """A compiled model: Adam, sparse categorical cross-entropy, accuracy."""
    builders = {"cnn": build_cnn, "lenet": build_lenet}
    model = builders[architecture]()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
