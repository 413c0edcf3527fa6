"""Ingest: read one site submission (CSV, XLSX, SPSS, REDCap) into a lossless all-text table."""
