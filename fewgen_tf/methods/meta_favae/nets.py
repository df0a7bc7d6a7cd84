"""Meta-FAVAE's four networks: encoder Enc, decoder Dec, generator G(z, c), discriminator D.

The paper gives no layer table (only "8.3M parameters at 64x64"). The closest published
networks are FAML's (the same authors' earlier method; their PyTorch code
phaphuang/FAML): a conv encoder into a 128-d code, a Dense -> transposed-conv generator
on [code, noise], a conv discriminator. These follow that shape in the DCGAN form, sized
so that the 64x64 RGB model has about the paper's parameter count (`parameter_counts`):

  levels L = 2 for sides <= 32 (28 -> 14 -> 7), else 3 (64 -> 32 -> 16 -> 8);
  widths w_i = 64 * 2^i * width (28x28: 64, 128; 64x64: 64, 128, 256).
  Enc: L x [Conv(w_i, 4, stride 2) (LayerNorm but the first) LeakyReLU(0.2)] -> Flatten
       -> Dense(2 * code_dim) = [mu, log-variance]
  D:   the same trunk -> Dense(1) (a logit)
  Dec: Dense(s0 * s0 * w_top) LayerNorm ReLU -> L x [Up(w) LayerNorm ReLU]
       (w = w_{L-2} ... w_0, w_0 / 2) -> Conv(channels, 3) sigmoid      (input c)
  G:   Dec's architecture on the concatenation [z, c] ("dual fusion")
  Up(w): `upsample` (`meta_favae.upsampling`: transposed | resize_conv).

Images are in [0, 1] (sigmoid outputs, the library's contract; FAML's tanh output is one
of its quirks). Default sizes code_dim = noise_dim = 64. FIGR's variant builds only G and
D. Normalisation is LayerNorm, without running statistics (`_norm` says why).
"""

import keras

from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.meta_favae.config import UPSAMPLINGS


def _w(n, width):
    return max(1, int(round(n * width)))


def levels(side):
    return 2 if side <= 32 else 3


def check_image_shape(image_shape):
    """A ConfigError naming what the networks cannot take."""
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ConfigError(f"Meta-FAVAE needs [H, W, 1] or [H, W, 3] images, got {image_shape}")
    side = image_shape[0]
    if image_shape[1] != side:
        raise ConfigError(f"Meta-FAVAE needs square images, got {side}x{image_shape[1]} "
                          "(set data.image_size)")
    step = 2 ** levels(side)
    if side % step or side < 2 * step:
        raise ConfigError(f"Meta-FAVAE needs an image side divisible by {step} (28 for "
                          f"characters, 64 for faces), got {side} (set data.image_size)")
    return image_shape


def _widths(side, width):
    return [_w(64 * 2 ** i, width) for i in range(levels(side))]


def _norm():
    """LayerNorm over each image's whole feature map (`GroupNormalization(groups=1)`:
    per-image statistics, per-channel scale and offset), as FIGR does; this answers the
    issue's BatchNorm question. It has no running statistics, so nothing but trainable
    weights exists: the inner loop is a pure function of (weights, images, seed), inner
    and outer loops and the exported `generate` see exactly the same network, and a
    4-image task normalises the same way at training and at generation time. D has no
    normalisation."""
    return keras.layers.GroupNormalization(groups=1, epsilon=1e-5)


def conv_trunk(image_shape, outputs, width=1.0, name="encoder"):
    """Enc (outputs = 2 * code_dim: mu then log-variance) or D (outputs = 1)."""
    image_shape = check_image_shape(image_shape)
    layers = [keras.Input(shape=image_shape)]
    for i, w in enumerate(_widths(image_shape[0], width)):
        layers.append(keras.layers.Conv2D(w, 4, strides=2, padding="same"))
        if i:
            layers.append(_norm())
        layers.append(keras.layers.LeakyReLU(0.2))
    layers += [keras.layers.Flatten(), keras.layers.Dense(outputs)]
    return keras.Sequential(layers, name=name)


def check_upsampling(upsampling):
    if upsampling not in UPSAMPLINGS:
        raise ConfigError(f"unknown meta_favae.upsampling {upsampling!r}; valid: "
                          f"{', '.join(UPSAMPLINGS)}")
    return upsampling


def upsample(filters, upsampling="transposed"):
    """The layers of one x2 upsampling to `filters` channels (module doc: Up(w)):
    "transposed" ConvT(w, 4, stride 2) (DCGAN's, FAML's; the default), or "resize_conv"
    nearest-neighbour x2 resize then Conv(w, 3) (Odena, Dumoulin & Olah 2016,
    "Deconvolution and checkerboard artifacts", Distill).

    Why the option: a stride-2 transposed convolution paints neighbouring output pixels
    with different parts of its kernel (the 4 sub-kernels of a 4x4 kernel at stride 2);
    unless the learnt sub-kernels stay balanced, neighbouring pixels get systematically
    different intensities, a checkerboard (Odena et al.: with kernel size divisible by
    the stride the overlap is even only in principle, models often learn the pattern
    anyway). Resizing first applies the same kernel at every output pixel, so the
    pattern cannot arise by construction (the gradients a strided D sends back to G can
    still carry one: Odena et al., "Artifacts in gradients"). Same output shapes; fewer
    weights (3x3 kernels instead of 4x4) but more arithmetic (the 3x3 convolution runs
    at the upsampled resolution: ~209 instead of ~118 GFLOP a 28x28 meta-iteration)."""
    if check_upsampling(upsampling) == "transposed":
        return [keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same")]
    return [keras.layers.UpSampling2D(2, interpolation="nearest"),
            keras.layers.Conv2D(filters, 3, padding="same")]


def deconv_head(inputs, image_shape, width=1.0, name="decoder", upsampling="transposed"):
    """Dec (inputs = code_dim) or G (inputs = noise_dim + code_dim): images in [0, 1];
    `upsampling`: transposed | resize_conv (module doc)."""
    image_shape = check_image_shape(image_shape)
    side, channels = image_shape[0], image_shape[-1]
    widths = _widths(side, width)
    start = side // 2 ** len(widths)
    ups = widths[-2::-1] + [max(1, widths[0] // 2)]
    layers = [keras.Input(shape=(inputs,)),
              keras.layers.Dense(start * start * widths[-1]),
              keras.layers.Reshape((start, start, widths[-1])), _norm(), keras.layers.ReLU()]
    for w in ups:
        layers += upsample(w, upsampling) + [_norm(), keras.layers.ReLU()]
    layers.append(keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid"))
    return keras.Sequential(layers, name=name)


def build_networks(image_shape, code_dim=64, noise_dim=64, width=1.0, with_vae=True,
                   upsampling="transposed"):
    """{name: network}: encoder, decoder (when `with_vae`), generator, discriminator;
    `upsampling` of Dec and G: transposed | resize_conv."""
    check_upsampling(upsampling)
    for key, value in (("generator.latent_dim", code_dim), ("meta_favae.noise_dim", noise_dim)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{key} must be an int >= 1, got {value!r}")
    nets = {}
    if with_vae:
        nets["encoder"] = conv_trunk(image_shape, 2 * code_dim, width, "encoder")
        nets["decoder"] = deconv_head(code_dim, image_shape, width, "decoder", upsampling)
    nets["generator"] = deconv_head(noise_dim + code_dim, image_shape, width, "generator",
                                    upsampling)
    nets["discriminator"] = conv_trunk(image_shape, 1, width, "discriminator")
    return nets


def parameter_counts(nets):
    """{name: trainable parameters, "total": their sum}. At width 1 (checked by the
    tests): 28x28x1 2,620,419 (Enc 935,488, Dec 572,353, G 973,761, D 138,817); 64x64x3
    7,991,815 (Enc 2,756,928, Dec 1,755,139, G 2,803,715, D 676,033), close to the
    paper's 8.3M. With `resize_conv` at 28x28x1: Dec 500,673 and G 902,081."""
    counts = {name: int(sum(int(v.numpy().size) for v in net.trainable_variables))
              for name, net in nets.items()}
    counts["total"] = sum(counts.values())
    return counts
