"""genlab: an experiment framework for VAEs and GANs."""

__version__ = "0.1.0"
