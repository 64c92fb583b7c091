"""Collectors: read raw state from APIs and record what could not be read."""
