"""Accounts, tenants, operators and their credentials; real-name authentication comes here next."""
