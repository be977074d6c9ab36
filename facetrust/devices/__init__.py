"""Devices bound to accounts: which device money may leave from, getting back in on a new one."""
