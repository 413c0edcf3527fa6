"""Classify: declarative, versioned risk schemes applied per patient."""
