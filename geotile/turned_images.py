"""The image labels in its own pixels were drawn on, as the labelling tools show it: its EXIF
orientation, its size as stored and as viewed (turned a quarter by orientations 5..8), and
the refusal of an image its orientation turns or flips (the tool drew on that view, not on the
stored pixels GDAL reads)."""

from __future__ import annotations

from pathlib import Path

from geotile.errors import InputError

#: the EXIF orientations that turn an image a quarter (its view is height x width)
QUARTER_TURNS = ("5", "6", "7", "8")
#: predict's note, on its output, of the EXIF orientation of the photo it read (evaluate
#: refuses truth drawn on the photo turned against it, as make-masks refuses the photo)
ORIENTATION_TAG = "GEOTILE_EXIF_ORIENTATION"


def orientation_of(src) -> str:
    """The EXIF orientation of the open raster ``src``: its own, else the one predict noted
    of the photo it was predicted from ("1": none)."""
    tags = src.tags()
    return (tags.get("EXIF_Orientation") or tags.get(ORIENTATION_TAG) or "1").strip()


def note_orientation(src, dst) -> None:
    """Note on predict's output ``dst`` the EXIF orientation of the photo ``src`` where it
    turns or flips it (:data:`ORIENTATION_TAG`)."""
    orientation = src.tags().get("EXIF_Orientation", "1").strip()
    if orientation not in ("", "1"):
        dst.update_tags(**{ORIENTATION_TAG: orientation})


def image_view(image) -> tuple[str, int, int, tuple[int, int]]:
    """(EXIF orientation, width, height, (width, height) of its view) of ``image`` (a
    prediction: of the photo it was predicted from)."""
    from geotile.input_paths import input_path
    from geotile.raster import open_raster

    with open_raster(input_path(image)) as src:
        orientation = orientation_of(src)
        width, height = src.width, src.height
    view = (height, width) if orientation in QUARTER_TURNS else (width, height)
    return orientation, width, height, view


def _predicted(image) -> bool:
    """Whether ``image`` is predict's output of a turned photo, not the photo."""
    from geotile.input_paths import input_path
    from geotile.raster import open_raster

    with open_raster(input_path(image)) as src:
        tags = src.tags()
    return ORIENTATION_TAG in tags and "EXIF_Orientation" not in tags


def refuse_turned(image, orientation: str, drawn: str, rotate: str | None = None) -> None:
    """InputError in one line where ``orientation`` turns or flips ``image``: ``drawn`` says,
    in the format's words, that its labels are drawn on it turned ("CVAT draws its shapes on
    it turned"); ``rotate``, the commands that rotate its pixels (exiftran's or magick's).
    A prediction of such a photo: rotate the photo, predict it again."""
    from geotile.input_paths import input_path

    if orientation in ("", "1"):
        return
    if _predicted(image):
        raise InputError(f"{image}: predicted from a photo its EXIF orientation ({orientation}) "
                         f"turns or flips, and {drawn}, not on the stored pixels. Rotate the "
                         "photo's pixels first (`exiftran -ai`), then predict it again.")
    if rotate is None:
        name = input_path(image).name
        rotate = f"`exiftran -ai {name}` or `magick mogrify -auto-orient {name}`"
    raise InputError(f"{image}: its EXIF orientation ({orientation}) turns or flips it, and "
                     f"{drawn}, not on the stored pixels. Rotate the pixels first ({rotate}).")


def check_image(path, size: tuple[int, int], image, labelled: bool, drawn: str) -> None:
    """Refuse ``image`` where its view is another size than ``size``, the size its labels
    file ``path`` annotates, or, where ``labelled`` (the file has labels on it), where its
    EXIF orientation turns or flips it (``drawn``: as :func:`refuse_turned`'s)."""
    orientation, width, height, view = image_view(image)
    if labelled:
        refuse_turned(image, orientation, drawn)
    if size != view:
        turned = (f" ({view[0]}x{view[1]} as its EXIF orientation ({orientation}) turns "
                  "it)" if view != (width, height) else "")
        fix = ("That is its size turned a quarter: rotate the photo's pixels first "
               "(`exiftran -ai`) and give it again." if size == (view[1], view[0])
               else "Give the image the annotations were made on.")
        raise InputError(f"{image}: {width}x{height} px{turned}, but {path} annotates an "
                         f"image of {size[0]}x{size[1]} px. {fix}")


def check_view(image, orientation: str, view: tuple[int, int], where: str, shows: str,
               labelled: bool, size: tuple[int, int] | None, fields: str) -> None:
    """Refuse, for an export whose labels were drawn on the image as a browser shows it
    (Labelbox, Label Studio): where ``labelled``, an image its EXIF ``orientation`` turns or
    flips (``shows``: who shows it so, "Labelbox shows"), and one whose ``view`` is another
    size than the ``size`` the export (``where``) gives in its ``fields`` (None: none)."""
    if labelled:
        refuse_turned(image, orientation, f"{where} is drawn on it as turned ({shows} it so)",
                      f"`exiftran -ai {Path(str(image)).name}`")
    if size is not None and size != view:
        raise InputError(f"{image}: {view[0]}x{view[1]} px, but {where} was drawn on an image "
                         f"of {size[0]}x{size[1]} px ({fields}). Give the image the labels "
                         "were made on.")
