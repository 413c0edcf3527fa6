"""Harmonise: canonical tables (derived variables, longitudinal tables) per site and the study
merge.
"""
