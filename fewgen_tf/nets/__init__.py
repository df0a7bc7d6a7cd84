"""Networks that several methods use (the InfoGAN / DCGAN encoders and generators, the
ResNets). A network knows nothing of losses, files or flags."""
