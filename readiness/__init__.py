"""readiness: tells an infrastructure team what will break Azure Site Recovery before they set it up."""

__version__ = "0.1.0"
