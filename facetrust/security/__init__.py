"""Template encryption, keys, request signing, audit chain, rate limits."""
