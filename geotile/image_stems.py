"""The name an input's outputs take: a STAC Item's id, a subdataset's or a DIMAP's name,
else its file's stem (above the readers it asks, :mod:`geotile.stac_images`)."""

from __future__ import annotations

from geotile.input_paths import dimap1_stem, input_path, subdataset_stem


def image_stem(path) -> str:
    """The name an input's outputs take (predict's and make-masks' in a folder, tile's
    patches, the masks paired with it): a STAC Item's id, else its file's stem."""
    from geotile.stac_images import is_item_json, item_stem

    return (is_item_json(path) and item_stem(path)) or subdataset_stem(path) \
        or dimap1_stem(path) or input_path(path).stem
