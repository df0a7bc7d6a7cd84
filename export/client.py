r"""A small TF Serving REST client for fewgen_tf's exported models.

Builds the request bodies (columnar "inputs" form, which is also the only form that
can carry the scalar `num_images` / `seed` inputs) and posts them:

  python export/client.py --server=http://localhost:8501 sample_task --seed=3
  python export/client.py --server=http://localhost:8501 sample --num_images=4 --seed=7
  python export/client.py classify --episode=episode.npz      # prints the body only
  python export/client.py --server=http://localhost:8501 generate --seeds=seeds.npy --num_images=8

Only the standard library and numpy are needed.
"""

import argparse
import json
import sys
import urllib.request

import numpy as np

# model name in models.config -> the signatures it serves
MODELS = {"classify": "classifier", "decode": "generator", "sample": "generator",
          "sample_task": "task_sampler", "generate": "fewshot_generator"}


def classify_request(support_images, support_labels, query_images) -> dict:
    return {"signature_name": "classify", "inputs": {
        "support_images": np.asarray(support_images, np.float32).tolist(),
        "support_labels": np.asarray(support_labels, np.int32).tolist(),
        "query_images": np.asarray(query_images, np.float32).tolist()}}


def decode_request(latents) -> dict:
    return {"signature_name": "decode",
            "inputs": {"latents": np.asarray(latents, np.float32).tolist()}}


def sample_request(num_images: int, seed: int) -> dict:
    return {"signature_name": "sample", "inputs": {"num_images": int(num_images),
                                                   "seed": int(seed)}}


def sample_task_request(seed: int) -> dict:
    return {"signature_name": "sample_task", "inputs": {"seed": int(seed)}}


def generate_request(seed_images, num_images: int, seed: int) -> dict:
    return {"signature_name": "generate", "inputs": {
        "seed_images": np.asarray(seed_images, np.float32).tolist(),
        "num_images": int(num_images), "seed": int(seed)}}


def predict(server: str, model: str, body: dict, timeout: float = 60.0) -> dict:
    """POST `body` to SERVER/v1/models/MODEL:predict and return the JSON "outputs"."""
    request = urllib.request.Request(f"{server.rstrip('/')}/v1/models/{model}:predict",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())["outputs"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="", help="e.g. http://localhost:8501; "
                        "without it the request body is printed")
    sub = parser.add_subparsers(dest="signature", required=True)
    sub.add_parser("sample_task").add_argument("--seed", type=int, default=0)
    sample = sub.add_parser("sample")
    sample.add_argument("--num_images", type=int, default=8)
    sample.add_argument("--seed", type=int, default=0)
    sub.add_parser("decode").add_argument("--latents", required=True,
                                          help=".npy file of [N, latent_dim] float32")
    sub.add_parser("classify").add_argument("--episode", required=True,
                                            help=".npz with support_images, support_labels, "
                                                 "query_images")
    generate = sub.add_parser("generate")
    generate.add_argument("--seeds", required=True, help=".npy file of [S, H, W, C] float32 "
                                                         "seed images of one class")
    generate.add_argument("--num_images", type=int, default=8)
    generate.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.signature == "sample_task":
        body = sample_task_request(args.seed)
    elif args.signature == "sample":
        body = sample_request(args.num_images, args.seed)
    elif args.signature == "generate":
        body = generate_request(np.load(args.seeds), args.num_images, args.seed)
    elif args.signature == "decode":
        body = decode_request(np.load(args.latents))
    else:
        episode = np.load(args.episode)
        body = classify_request(episode["support_images"], episode["support_labels"],
                                episode["query_images"])
    if not args.server:
        json.dump(body, sys.stdout)
        print()
        return
    outputs = predict(args.server, MODELS[args.signature], body)
    print(json.dumps({k: np.asarray(v).shape for k, v in outputs.items()}))


if __name__ == "__main__":
    main()
