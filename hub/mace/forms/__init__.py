"""The MACE forms, one module per blueprint in `hub/mace/views/`."""
