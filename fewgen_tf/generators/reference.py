"""Two reference few-shot generators that make the generative metrics readable.

Both honour the DESIGN's few-shot generator contract, `generate(seed_images,
num_images, seed) -> images`, in TensorFlow ops only (stateless random draws), so they
run, and export (`export.export_fewshot_generator`), like any learned method:

  CopySeeds   returns the seed images unchanged, cycling through them in an order drawn
              from `seed` (each seed used as evenly as possible): novelty exactly 0, the
              fidelity of the seeds themselves; the floor of "new images".
  PixelBlend  returns alpha * a + (1 - alpha) * b of two random seeds a != b (alpha
              uniform in `alpha_range`): new pixels, but ghosted double strokes off the
              data manifold. In pixel space a blend lies at most half the seed-to-seed
              distance from its nearer seed, so its novelty falls BETWEEN copying (0) and
              real new images (1); what gives it away is fidelity, the Frechet distance
              and CAS, which is why novelty is never read alone.
Every method must beat them (benchmarks/RESULTS.md gives their numbers).
"""

import tensorflow as tf

from fewgen_tf import seeds
from fewgen_tf.errors import ConfigError


class CopySeeds(tf.Module):
    name_in_results = "copy_seeds"

    def generate(self, seed_images, num_images, seed):
        seed_images = tf.convert_to_tensor(seed_images, tf.float32)
        count = tf.shape(seed_images)[0]
        order = tf.argsort(tf.random.stateless_uniform([count], seeds.seed_pair(seed, 11)))
        return tf.gather(seed_images, tf.gather(order, tf.range(num_images) % count))


class PixelBlend(tf.Module):
    name_in_results = "pixel_blend"

    def __init__(self, alpha_range=(0.2, 0.8)):
        super().__init__()
        low, high = (float(a) for a in alpha_range)
        if not 0.0 <= low <= high <= 1.0:
            raise ConfigError(f"PixelBlend alpha_range must satisfy 0 <= low <= high <= 1, "
                              f"got {tuple(alpha_range)}")
        self.alpha_range = (low, high)

    def generate(self, seed_images, num_images, seed):
        seed_images = tf.convert_to_tensor(seed_images, tf.float32)
        count = tf.shape(seed_images)[0]
        first = tf.random.stateless_uniform([num_images], seeds.seed_pair(seed, 21), 0, count,
                                            dtype=tf.int32)
        # The second seed differs from the first whenever there are two or more seeds.
        offset = tf.random.stateless_uniform([num_images], seeds.seed_pair(seed, 22), 1,
                                             tf.maximum(count, 2), dtype=tf.int32)
        second = tf.math.floormod(first + offset, count)
        low, high = self.alpha_range
        alpha = tf.random.stateless_uniform([num_images, 1, 1, 1], seeds.seed_pair(seed, 23),
                                            low, high)
        return alpha * tf.gather(seed_images, first) + (1 - alpha) * tf.gather(seed_images,
                                                                               second)


REFERENCE_GENERATORS = {"copy_seeds": CopySeeds, "pixel_blend": PixelBlend}
