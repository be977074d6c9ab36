"""Risk control: every money and face event is recorded and scored."""
