"""What COLA offers other methods through the generator registry (its entry's `hooks`):
it is class-conditional with clusters (LASIUM's strategy `cluster`), fills in K = 0 when a
run starts, trains inline on unlabelled images (LASIUM's `best`), and tells which cluster
each training image is in (`lasium.cluster_images = real`). TensorFlow-free at import:
the registry reads `CLUSTERS` during the start-up checks."""

CLUSTERS = True  # class-conditional, one Gaussian per cluster (`cola.num_clusters`)


def complete_config(config) -> None:
    """`cola.num_clusters = 0` -> the training split's class count (config.complete_cola)."""
    from fewgen_tf.methods.cola import config as cola_config

    cola_config.complete_cola(config)


def train_unlabelled(config, workdir, images):
    """COLA trained on the unlabelled `images` in `workdir` (steps I-III, resumable)."""
    from fewgen_tf.methods.cola import stages

    return stages.train_unlabelled(config, workdir, images)


def image_clusters(config, workdir, images):
    """[N] ints: each training image's cluster in the finished run `workdir`."""
    from fewgen_tf.methods.cola import stages

    return stages.image_clusters(config, workdir, images)
