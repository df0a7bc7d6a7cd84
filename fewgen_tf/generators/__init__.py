"""Generative models behind LASIUM's task sampler (and, later, the few-shot
generators). Each is a keras.Model with its own `train_step` and the generator
contract: `latent_dim`, `sample_latents(n, seed)`, `decode(z) -> images in [0, 1]`;
encoder-based models add `encode(images) -> z`. Import submodules directly."""
