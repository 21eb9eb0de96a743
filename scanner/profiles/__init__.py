"""Built-in venue profiles (TOML data files); see `scanner.policy`."""
