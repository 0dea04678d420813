"""The published checkpoint folders that ship with neurozoo (installed as ``neurozoo_model_cards``).

Each ``<name>/`` holds ``model.safetensors``, ``config.json`` and the card ``README.md`` of a
registered checkpoint; ``neurozoo.hub`` reads them first, verified against the record's sha256, so a
wheel install loads them offline. This module has no code: it makes the folder a package so that
the files travel as package data.
"""
