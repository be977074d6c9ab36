"""The consent ledger: purposes, notice versions, grants and withdrawals (append-only)."""
