"""The MACE services by area: each checks permission, applies its rule and audits in one transaction."""
