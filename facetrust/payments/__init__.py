"""Face payment: merchants and their terminals, payment intents, the payer's capture, the wallet
ledger."""
