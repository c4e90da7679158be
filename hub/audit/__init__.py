"""The append-only, tamper-evident audit log (RFC 6962 Merkle tree, signed tree heads)."""
