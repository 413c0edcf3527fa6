"""cohortflow: multicentre clinical-study pipeline from site CRF submissions to survival outputs."""

__version__ = "0.1.0"
