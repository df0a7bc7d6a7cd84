"""Fixed few-shot GENERATION tasks: the evaluation episodes of few-shot generators.

Task `i` of a split gives a generator the `seeds_per_class` seed images of one novel
class and keeps `real_per_class` other real images of that class aside (held out, the
reference for novelty, CAS and the Frechet distance). Like evaluation episodes, task `i`
is a pure function of (seed, split name, i) through `fewgen_tf.data.rng`: the same
classes and images on every run and machine, whatever was drawn before.
"""

import dataclasses

import numpy as np

from fewgen_tf.data import episodes, rng
from fewgen_tf.data.class_dataset import ClassDataset


@dataclasses.dataclass(frozen=True)
class GenerationTask:
    index: int                # task index in the stream
    class_index: int          # the class's index in the split
    class_name: str
    class_key: int            # stable identity (maps the class into the full dataset)
    seed_images: np.ndarray   # [seeds_per_class, H, W, C]: what the generator sees
    real_images: np.ndarray   # [real_per_class, H, W, C]: held out, distinct from the seeds


def check_generation_request(split: ClassDataset, num_classes, seeds_per_class, real_per_class):
    episodes.check_class_request(
        split, (("gen_eval.num_classes", num_classes, 1),
                ("gen_eval.seeds_per_class", seeds_per_class, 1),
                ("gen_eval.real_per_class", real_per_class, 1)),
        num_classes, seeds_per_class + real_per_class,
        f"gen_eval.seeds_per_class + real_per_class = {seeds_per_class} + {real_per_class}")


def generation_tasks(split: ClassDataset, num_classes: int, seeds_per_class: int,
                     real_per_class: int, seed: int, stream: str = "generation"):
    """`num_classes` tasks, one per distinct class of `split` drawn by (seed, stream)."""
    check_generation_request(split, num_classes, seeds_per_class, real_per_class)
    key = rng.derive_key("generation", seed, stream, split.name)
    classes = rng.sample_without_replacement(rng.derive_key(key, "classes"),
                                             split.num_classes, num_classes)
    tasks = []
    for i, c in enumerate(classes):
        c = int(c)
        images = split.class_images(c)
        chosen = rng.sample_without_replacement(rng.derive_key(key, "images", i), len(images),
                                                seeds_per_class + real_per_class)
        tasks.append(GenerationTask(i, c, split.class_names[c], int(split.class_keys[c]),
                                    images[chosen[:seeds_per_class]],
                                    images[chosen[seeds_per_class:]]))
    return tasks
