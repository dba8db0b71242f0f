"""Results to tables, files and plots; the `layercheck` command line."""
