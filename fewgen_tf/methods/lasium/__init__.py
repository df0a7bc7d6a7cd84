"""LASIUM (Khodadadeh et al., ICLR 2021): synthetic N-way tasks from a generator's
latent space. Import submodules directly."""
