"""driftcheck: configuration drift detection for Google Cloud Run estates."""

__version__ = "0.1.0"
