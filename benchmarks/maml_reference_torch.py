r"""Reference second-order MAML in PyTorch, on episodes from benchmarks/export_episodes.py.

  $TORCH_VENV/bin/python benchmarks/maml_reference_torch.py --episodes=/tmp/episodes.npz

An independent yardstick for fewgen_tf's MAML (benchmarks/compare_maml.sh runs both on
the same tasks): only torch and numpy, so it runs in its own virtual environment and
torch never becomes a dependency of the library.

The setting mirrors fewgen_tf's defaults (`add_meta_learning(base_config(), "maml")`):
conv4 as the library's (`conv4` below), PyTorch's default initialisation (= the library's
meta.init="torch"), BN eps 1e-3 (meta.bn_epsilon). Inner loop: 5 SGD steps at 0.4 via
`torch.func.functional_call` + `torch.autograd.grad(create_graph=True)`; outer: Adam 1e-3
on the mean query loss over the meta-batch. Evaluation: 50 first-order steps at 0.4 on
the support set, accuracy on the queries (normalised, like the support set, by their own
batch statistics, as the library does).

Compare mean accuracies over many tasks (and seeds), never single runs' trajectories:
given the library's initial weights the two second-order meta-gradients agree to ~1e-13
relative in float64, but in float32 5 steps at lr 0.4 through BatchNorm over 5 support
images amplify rounding by tens of percent, in either framework.
Timing: the first meta-iteration is a warm-up (trained on, timed apart as `warmup_s`;
for the library it includes tracing); `train_s` / `iterations_per_s` cover the rest.
`eval_s` covers the whole evaluation. Prints one JSON line.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def conv4(ways, filters, bn_eps, conv_bias):
    """`fewgen_tf.nets.backbones.classifier(backbone="conv4")`: 4 x [Conv2d(`filters`,
    3x3, 'same'), BatchNorm2d (batch statistics always, affine), ReLU, MaxPool2d(2)],
    flatten, Linear(filters -> ways).

    Known differences from the library (none changes the algorithm; accuracies compare
    as distributions, not bit for bit):
      * initial weights: same distribution, different random numbers (torch.manual_seed);
      * Adam epsilon: PyTorch 1e-8 added to sqrt(v_hat); Keras 1e-7 added to sqrt(v) with
        the bias correction folded into the step size (`--adam_eps` changes ours);
      * tasks run one after another here; the library runs a meta-batch's tasks in one
        graph and evaluation tasks 8 at a time (tf.map_fn), which only changes speed;
      * conv biases: the library has none (BatchNorm cancels them); `--conv_bias` adds
        them, as many PyTorch MAML codes do."""
    layers, channels = [], 1
    for _ in range(4):
        layers += [nn.Conv2d(channels, filters, 3, padding=1, bias=conv_bias),
                   nn.BatchNorm2d(filters, eps=bn_eps, track_running_stats=False),
                   nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(filters, ways))  # 28 -> 1x1


def adapt(model, params, x, y, steps, lr, create_graph):
    """`steps` SGD steps on (x, y) from `params`; differentiable through the inner
    gradients when `create_graph` (second order), else they are constants."""
    for _ in range(steps):
        loss = F.cross_entropy(functional_call(model, params, (x,)), y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {k: w - lr * g for (k, w), g in zip(params.items(), grads)}
    return params


def batch(npz, part, index):
    """Tensors (support x, support y, query x, query y) of episode(s) `index`, NCHW."""
    images = npz[f"{part}_images"]
    x = lambda k: torch.from_numpy(images[npz[f"{part}_{k}_index"][index]]).movedim(-1, -3)
    y = lambda k: torch.from_numpy(npz[f"{part}_{k}_labels"][index].astype(np.int64))
    return x("support"), y("support"), x("query"), y("query")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--episodes", required=True, help=".npz from export_episodes.py")
    p.add_argument("--iterations", type=int, default=0, help="0: every exported meta-batch")
    p.add_argument("--eval_tasks", type=int, default=0, help="0: every exported task")
    p.add_argument("--inner_lr", type=float, default=0.4)
    p.add_argument("--inner_steps", type=int, default=5)
    p.add_argument("--eval_inner_steps", type=int, default=50)
    p.add_argument("--meta_lr", type=float, default=1e-3)
    p.add_argument("--adam_eps", type=float, default=1e-8, help="PyTorch's default")
    p.add_argument("--bn_eps", type=float, default=1e-3, help="fewgen_tf meta.bn_epsilon")
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--conv_bias", action="store_true")
    p.add_argument("--first_order", action="store_true", help="FO-MAML")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="0: every core")
    args = p.parse_args()

    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    npz = dict(np.load(args.episodes))
    iterations = args.iterations or npz["train_support_index"].shape[0]
    eval_tasks = args.eval_tasks or npz["eval_support_index"].shape[0]
    if not 2 <= iterations <= npz["train_support_index"].shape[0]:
        raise SystemExit(f"--iterations must be 2..{npz['train_support_index'].shape[0]}")
    model = conv4(int(npz["ways"]), args.filters, args.bn_eps, args.conv_bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.meta_lr, eps=args.adam_eps)

    start = time.perf_counter()
    for t in range(iterations):
        if t == 1:
            warmup_s, start = time.perf_counter() - start, time.perf_counter()
        xs, ys, xq, yq = batch(npz, "train", t)
        optimizer.zero_grad()
        params = dict(model.named_parameters())
        loss = 0.0
        for b in range(len(xs)):
            adapted = adapt(model, params, xs[b], ys[b], args.inner_steps, args.inner_lr,
                            create_graph=not args.first_order)
            loss = loss + F.cross_entropy(functional_call(model, adapted, (xq[b],)), yq[b])
        (loss / len(xs)).backward()
        optimizer.step()
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    accuracies = []
    for i in range(eval_tasks):
        xs, ys, xq, yq = batch(npz, "eval", i)
        params = {k: v.detach().requires_grad_() for k, v in model.named_parameters()}
        for _ in range(args.eval_inner_steps):  # first order; detached: no growing graph
            params = {k: v.detach().requires_grad_() for k, v in
                      adapt(model, params, xs, ys, 1, args.inner_lr, False).items()}
        with torch.no_grad():
            logits = functional_call(model, params, (xq,))
        accuracies.append((logits.argmax(-1) == yq).float().mean().item())
    eval_s = time.perf_counter() - start

    acc = np.array(accuracies)
    print(json.dumps({
        "implementation": "torch", "algorithm": "fomaml" if args.first_order else "maml",
        "iterations": iterations, "warmup_s": round(warmup_s, 2), "train_s": round(train_s, 2),
        "iterations_per_s": round((iterations - 1) / train_s, 3), "eval_tasks": eval_tasks,
        "eval_s": round(eval_s, 2), "accuracy_mean": round(float(acc.mean()), 4),
        "ci95": round(float(1.96 * acc.std() / np.sqrt(len(acc))), 4), "seed": args.seed,
        "torch_version": torch.__version__, "threads": threads}))


if __name__ == "__main__":
    main()
