"""The GDAL settings geotile reads files with, in the library as in the commands."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

#: a JPEG whose data libjpeg finds corrupt is a read error, not noise decoded silently; a
#: user's own setting (in the environment or a rasterio.Env) wins
READ_SETTINGS = {"GDAL_ERROR_ON_LIBJPEG_WARNING": "TRUE"}


def read_settings() -> dict:
    """The :data:`READ_SETTINGS` that the user has not set (environment, rasterio.Env)."""
    from rasterio.env import get_gdal_config

    return {key: value for key, value in READ_SETTINGS.items()
            if key not in os.environ and get_gdal_config(key) is None}


def with_read_settings(function: Callable) -> Callable:
    """``function`` (a public entry point) run under :func:`read_settings` in a
    rasterio.Env, so that a notebook reads files as the commands do; nothing stays set."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        settings = read_settings()
        if not settings:
            return function(*args, **kwargs)
        import rasterio

        with rasterio.Env(**settings):
            return function(*args, **kwargs)

    return wrapper
