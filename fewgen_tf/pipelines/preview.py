"""Pipeline `preview`: see the data the way the models will.

Writes dataset statistics of each class split to metrics.jsonl and a picture of a few
training episodes and the first evaluation episodes to samples/episodes.png. Training
episodes come from stream 'train' with `config.seed`; evaluation episodes from the
stream named after the split with `config.eval.seed`, exactly as the learners draw them.
"""

from absl import logging

from fewgen_tf import visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import episodes, registry


def run(config, workdir: str) -> dict:
    splits = registry.load_splits(config.data)
    ways, shots, queries = config.eval.ways, config.eval.shots, config.eval.queries
    for part in ("train", "test"):  # before anything is written
        episodes.check_episode_request(splits[part], ways, shots, queries)
    stats = {}
    for part, dataset in splits.items():
        stats[part] = dataset.statistics()
        workdir_lib.append_metrics_once(workdir, dict(stats[part], split=part))
        logging.info("%s split: %d classes, %d images of shape %s", part,
                     stats[part]["classes"], stats[part]["images"], stats[part]["image_shape"])

    num_episodes = config.preview.num_episodes
    blocks = []
    for part, seed in (("train", config.seed), ("test", config.eval.seed)):
        for index in range(num_episodes):
            episode = episodes.sample_episode(splits[part], ways, shots, queries, seed, part, index)
            blocks.append(visualize.episode_grid(episode, ways))
    path = workdir_lib.save_png(workdir, "episodes.png", visualize.stack_vertically(blocks))
    logging.info("wrote %s: %d train then %d test episodes (rows = classes; support, gap, "
                 "queries)", path, num_episodes, num_episodes)
    return stats
