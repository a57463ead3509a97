"""Counts as messages say them: "1 image", "2 images", "1 feature is", "2 features are"."""

from geotile.plurals import counted, counted_are


def test_one_is_said_in_the_singular_and_others_in_the_plural():
    assert counted(1, "image") == "1 image"
    assert [counted(n, "image") for n in (0, 2)] == ["0 images", "2 images"]
    assert counted(1, "geometry", "geometries") == "1 geometry"
    assert counted(3, "geometry", "geometries") == "3 geometries"
    assert counted_are(1, "feature") == "1 feature is"
    assert counted_are(2, "feature") == "2 features are"
