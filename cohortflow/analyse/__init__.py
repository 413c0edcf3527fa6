"""Analyse: eligibility, endpoints (ADTTE), responses and the study analyses built on ``stats``."""
