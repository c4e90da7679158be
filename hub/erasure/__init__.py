"""Erasure requests (UK GDPR Art 17): recorded by a DPO, decided by each agency, answered."""
