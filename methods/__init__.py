"""Methods: the shared backbone and one file per objective, registered by name in METHODS.

Registration order is the order of the paper's tables."""
# isort: off
from methods import muni, muni_hellinger, mvae, mmvae, mopoe, helvae, mmvae_plus, shala  # noqa: F401
from methods import unified_latents, flowbind  # noqa: F401
# isort: on
from methods.base import METHODS, Capabilities, ConditioningError, Method, Stage

__all__ = ["METHODS", "Capabilities", "ConditioningError", "Method", "Stage"]
