"""Shared foundations: errors, config loading, the data dictionary, expressions, I/O, pseudonyms,
cell-value parsing, identifier detection, findings and the stage runner.
"""
