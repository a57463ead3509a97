"""Class names that say no data ('nodata', 'Fill Value', 'Sin datos', 'Unclassified' at
id 0): such an id is no class, however its raster declares it."""

from __future__ import annotations

from geotile.class_keys import class_key

#: names of id 0 that say "no data" (a raster naming its id 0 so: its nodata 0 is no data)
NODATA_NAMES = frozenset({"nodata", "no_data", "ignore", "ignored", "void", "unlabeled",
                          "unlabelled", "not_labeled", "not_labelled", "unknown", "null",
                          "masked", "missing", "unclassified", "no_class", "noclass",
                          "not_classified", "fill", "no_information"})  # DFC2022's 0


#: names of no data at id 0 only: past it, a class (ASPRS LiDAR's 1 'Unclassified': points
#: processed into no other class, which a model predicts too)
UNCLASSIFIED_NAMES = frozenset({"unclassified", "no_class", "noclass", "not_classified"})


#: beginnings of names that say no data ('No data (ocean)', 'NoData - outside scene', a
#: product's 'Fill Value', MapBiomas' 'Não observado'), in the languages land-cover legends
#: and QGIS users write them in (compared as :func:`~geotile.class_keys.class_key` gives them)
NODATA_PREFIXES = ("no_data", "nodata", "no_value", "novalue", "fill_value", "fillvalue",
                   "not_observed", "out_of_bounds", "outside", "sin_dato", "keine_daten",
                   "pas_de_donn", "sem_dado", "nessun_dato", "brak_danych", "geen_data",
                   "geen_gegevens", "não_observado", "nao_observado")


def names_no_data(name, class_id: int = 0) -> bool:
    """Whether the name of id ``class_id`` says no data: one of :data:`NODATA_NAMES` (past
    id 0, not :data:`UNCLASSIFIED_NAMES`), or one starting with :data:`NODATA_PREFIXES`."""
    key = class_key(name)
    if class_id and key in UNCLASSIFIED_NAMES:
        return False
    return key in NODATA_NAMES or key.startswith(NODATA_PREFIXES)
