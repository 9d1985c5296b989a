from tasks.gaussian_mixture.suite import GaussianMixture

__all__ = ["GaussianMixture"]
