"""Meta-learners on Episode dicts: MAML / FO-MAML, ProtoNets, Reptile, and the
from-scratch baseline. Import submodules directly."""
