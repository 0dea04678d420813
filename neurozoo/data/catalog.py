"""Hook implementations registering the core datasets."""
