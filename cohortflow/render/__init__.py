"""Render: tables, figures, the CONSORT diagram, Markdown/HTML writers and the run report."""
