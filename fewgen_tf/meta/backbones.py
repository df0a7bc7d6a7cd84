"""The conv4 backbone of MAML / ProtoNets / LASIUM (Vinyals et al. 2016).

Four blocks of 3x3 conv (64 filters, 'same'), BatchNorm, ReLU and 2x2 max-pool, then
flatten: 64 features for 28x28 Omniglot, 1600 for 84x84 images.
"""

import keras


def _conv4_layers(filters):
    layers = []
    for block in range(4):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{block}"),
            keras.layers.BatchNormalization(name=f"bn{block}"),
            keras.layers.ReLU(name=f"relu{block}"),
            keras.layers.MaxPooling2D(2, name=f"pool{block}"),
        ]
    return layers + [keras.layers.Flatten(name="flatten")]


def conv4(input_shape, filters: int = 64, name: str = "conv4") -> keras.Sequential:
    """The embedding network (ProtoNets)."""
    return keras.Sequential([keras.Input(shape=tuple(input_shape))] + _conv4_layers(filters),
                            name=name)


def conv4_classifier(input_shape, ways: int, filters: int = 64,
                     name: str = "conv4_classifier") -> keras.Sequential:
    """conv4 with a Dense(ways) head: the network MAML and Reptile adapt."""
    return keras.Sequential([keras.Input(shape=tuple(input_shape))] + _conv4_layers(filters)
                            + [keras.layers.Dense(ways, name="head")], name=name)
