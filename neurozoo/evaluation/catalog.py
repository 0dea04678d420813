"""Hook implementations registering the shared metrics."""
