"""Scores that train a classifier: the Classification Accuracy Score and the Mix protocol
(Ravuri & Vinyals 2019, "Classification Accuracy Score for Conditional Generative
Models"; used by COLA: a classifier trained on generated images only and tested on real
ones; Mix trains it on batches half real, half generated), and the domain
classification rate (AugIntAE, Table 2: the share of images generated for novel classes
that a real-data classifier assigns to the TRAINING domain)."""

import numpy as np

from fewgen_tf.data import rng
from fewgen_tf.errors import DataError
from fewgen_tf.metrics import classifier as classifier_lib
from fewgen_tf.metrics.classifier import check_images, check_labels, check_same_shape


def classification_accuracy_score(generated_images, generated_labels, test_images,
                                  test_labels, num_classes: int, steps: int, seed: int,
                                  **classifier_options) -> float:
    """CAS (Ravuri & Vinyals 2019): accuracy on REAL test images of the shared small
    classifier trained on GENERATED images only. A generator whose class-conditional
    samples carry the class scores like real data; one that ignores the class scores
    chance. `classifier_options` go to `classifier.train_classifier`."""
    generated_images = check_images(generated_images, "generated_images")
    generated_labels = check_labels(generated_labels, len(generated_images), num_classes,
                                    "generated_labels")
    test_images = check_images(test_images, "test_images")
    test_labels = check_labels(test_labels, len(test_images), num_classes, "test_labels")
    check_same_shape([("generated_images", generated_images), ("test_images", test_images)])
    net = classifier_lib.train_classifier([(generated_images, generated_labels)], num_classes,
                                          steps, seed, **classifier_options)
    return net.accuracy(test_images, test_labels)


def mix_protocol(real_images, real_labels, generated_images, generated_labels, test_images,
                 test_labels, num_classes: int, steps: int, seed: int,
                 **classifier_options) -> dict:
    """The Mix protocol (data augmentation by a generator; Ravuri & Vinyals 2019, COLA):
    {"real_only": accuracy trained on real images, "mix": accuracy trained on batches
    that are 50% real, 50% generated}, both on the real test images. The two runs share
    the classifier, its initial weights (`seed`), optimiser, batch size and number of
    steps, so the difference is the generated data alone."""
    real_images = check_images(real_images, "real_images")
    real_labels = check_labels(real_labels, len(real_images), num_classes, "real_labels")
    generated_images = check_images(generated_images, "generated_images")
    generated_labels = check_labels(generated_labels, len(generated_images), num_classes,
                                    "generated_labels")
    test_images = check_images(test_images, "test_images")
    test_labels = check_labels(test_labels, len(test_images), num_classes, "test_labels")
    check_same_shape([("real_images", real_images), ("generated_images", generated_images),
                       ("test_images", test_images)])
    real_only = classifier_lib.train_classifier([(real_images, real_labels)], num_classes,
                                                steps, seed, **classifier_options)
    mix = classifier_lib.train_classifier(
        [(real_images, real_labels), (generated_images, generated_labels)], num_classes,
        steps, seed, **classifier_options)
    return {"real_only": real_only.accuracy(test_images, test_labels),
            "mix": mix.accuracy(test_images, test_labels)}


DOMAIN_HOLDOUT_FRACTION = 0.2
TRAINING_DOMAIN, NOVEL_DOMAIN = 0, 1


def domain_classification_rate(training_domain_images, novel_domain_images, generated_images,
                               steps: int, seed: int, **classifier_options) -> dict:
    """AugIntAE's Table 2: does a generator fed novel-class seeds stay in the novel
    domain, or fall back to what it was trained on?

    A binary classifier (training domain = 0 vs novel domain = 1, balanced batches) is
    trained on real images of both domains, except a held-out `DOMAIN_HOLDOUT_FRACTION`
    of each (chosen by `seed`). Returns {"rate": share of `generated_images` (all meant
    to be novel-domain) that it assigns to the TRAINING domain -- lower is better,
    "classifier_accuracy": its held-out accuracy, the mean of the two domains'
    accuracies so that unequal domain sizes do not inflate it}.
    """
    training = check_images(training_domain_images, "training_domain_images")
    novel = check_images(novel_domain_images, "novel_domain_images")
    generated = check_images(generated_images, "generated_images")
    check_same_shape([("training_domain_images", training), ("novel_domain_images", novel),
                       ("generated_images", generated)])
    splits = []
    for domain, images in ((TRAINING_DOMAIN, training), (NOVEL_DOMAIN, novel)):
        if len(images) < 2:
            raise DataError(f"domain classification rate: each domain needs at least 2 real "
                            f"images (some to train on, some held out), got {len(images)}")
        count = min(len(images) - 1, max(1, int(round(DOMAIN_HOLDOUT_FRACTION * len(images)))))
        order = rng.permutation(rng.derive_key(int(seed), "domain-holdout", domain), len(images))
        splits.append((images[np.sort(order[count:])], images[np.sort(order[:count])]))
    sources = [(train, np.full(len(train), domain, np.int32))
               for domain, (train, _) in enumerate(splits)]
    net = classifier_lib.train_classifier(sources, 2, steps, seed, **classifier_options)
    accuracy = float(np.mean([np.mean(net.predict(held_out) == domain)
                              for domain, (_, held_out) in enumerate(splits)]))
    rate = float(np.mean(net.predict(generated) == TRAINING_DOMAIN))
    return {"rate": rate, "classifier_accuracy": accuracy}
