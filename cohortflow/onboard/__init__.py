"""Onboard: draft a site mapping from a new submission."""
