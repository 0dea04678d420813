"""Built-in neurozoo plugins, installed as the ``neurozoo_plugins`` package (one subpackage per method)."""
