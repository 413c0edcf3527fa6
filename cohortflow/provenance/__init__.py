"""Provenance: the manifest, frozen releases, value and table-cell lineage (trace) and run diffs."""
