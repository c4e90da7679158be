"""The MACE blueprints, one per area, all under `/mace`; each keeps its own endpoint prefix."""
