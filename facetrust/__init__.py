"""FaceTrust: face-based identity, payment and credit authorisation."""

__version__ = "0.1.0"
