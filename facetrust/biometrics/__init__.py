"""Pure biometric engine: decode, detect, quality, align, embed, match.

No database and no HTTP here; every other package calls in, never the reverse.
"""
