"""Built-in venue profiles (TOML data files); see `scanner.policy`."""

# The venue profile of a device (and of `checkpoint check`) that names none.
DEFAULT_PROFILE = "transport"
