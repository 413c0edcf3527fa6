"""Statistics that know nothing of studies: Kaplan-Meier, log-rank tests, Cox, competing risks,
time-dependent methods.
"""
