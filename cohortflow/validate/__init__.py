"""Validate: site mappings, the check catalogue, data-quality reports, query listings and the pre-
submission check.
"""
