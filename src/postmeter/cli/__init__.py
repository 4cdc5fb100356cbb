"""The command line: ``postmeter ...``, built on Typer and rich; it calls service/, never store/."""
