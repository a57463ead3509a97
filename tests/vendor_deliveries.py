"""Commercial VHR deliveries as vendors ship them, synthesised small: a Maxar/DigitalGlobe
tiled product (.TIL listing R1C1, R1C2 GeoTIFFs, with its .IMD)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

#: a Maxar product's names: <acquisition>-<band code>[_R<r>C<c>]-<order>_P001.<ext>
MAXAR_SCENE, MAXAR_ORDER = "17JUN12345678-M2AS", "-058123456010_01_P001"


def maxar_tiles(folder: Path, *, width=96, height=64, columns=2, seed=0, pan=False) -> Path:
    """A Maxar ORS product: ``columns`` GeoTIFF tiles side by side (4 bands of 11-bit DN in
    uint16, EPSG:32616, 2 m, a 0 DN collar in the last tile's 10 right columns), its .TIL
    (GDAL's TIL driver mosaics them) and .IMD (its size, georeference, absCalFactor and
    effectiveBandwidth per band). ``pan``: the panchromatic product (P2AS, 1 band).
    Returns the .TIL."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tile_width = width // columns
    scene, letters = (MAXAR_SCENE.replace("-M", "-P"), "P") if pan else (MAXAR_SCENE, "BGRN")
    til = [f"numTiles = {columns};", f"tileSizeX = {tile_width};", f"tileSizeY = {height};",
           'tileUnits = "Pixels";', "tileOverlap = 0;"]
    for c in range(columns):
        name = f"{scene}_R1C{c + 1}{MAXAR_ORDER}.TIF"
        data = rng.integers(100, 2048, (len(letters), height, tile_width)).astype("uint16")
        if c == columns - 1:
            data[:, :, -10:] = 0
        with rasterio.open(folder / name, "w", driver="GTiff", width=tile_width,
                           height=height, count=len(letters), dtype="uint16", crs="EPSG:32616",
                           transform=from_origin(500000 + c * tile_width * 2.0, 4000000,
                                                 2.0, 2.0)) as dst:
            dst.write(data)
        til += [f"BEGIN_GROUP = TILE_{c + 1}", f'\tfilename = "{name}";',
                f"\tULColOffset = {c * tile_width};", "\tULRowOffset = 0;",
                f"\tLRColOffset = {(c + 1) * tile_width - 1};",
                f"\tLRRowOffset = {height - 1};", f"END_GROUP = TILE_{c + 1}"]
    stem = folder / f"{scene}{MAXAR_ORDER}"
    stem.with_suffix(".TIL").write_text("\n".join([*til, "END;", ""]))
    bands = [line for i, band in enumerate(letters) for line in (
        f"BEGIN_GROUP = BAND_{band}", f"\tabsCalFactor = 1.2{i}e-02;",
        f"\teffectiveBandwidth = 5.4{i}e-02;", f"END_GROUP = BAND_{band}")]
    imd = ['version = "28.4";', f'bandId = "{"P" if pan else "Multi"}";', f"numRows = {height};",
           f"numColumns = {width};", 'productLevel = "LV2A";', "bitsPerPixel = 16;", *bands,
           "BEGIN_GROUP = MAP_PROJECTED_PRODUCT", '\tmapProjName = "UTM";', "\tmapZone = 16;",
           "\tULX = 500001.0;", "\tULY = 3999999.0;",  # pixel centres
           "\tcolSpacing = 2.0;", "\trowSpacing = 2.0;", "END_GROUP = MAP_PROJECTED_PRODUCT",
           "END;", ""]
    stem.with_suffix(".IMD").write_text("\n".join(imd))
    return stem.with_suffix(".TIL")


#: a PlanetScope scene's id, as its files' names begin
PLANET_SCENE = "20230612_101010_12_2447"


#: a PlanetScope analytic (radiance) product's reflectanceCoefficient per band
PLANET_COEFFICIENTS = (1.93e-05, 2.08e-05, 2.31e-05, 3.42e-05)


#: PlanetScope 8-band's band descriptions, in its band order (its 4-band: every second)
PLANET_8B = ("coastal_blue", "blue", "green_i", "green", "yellow", "red", "rededge", "nir")
_COLOURS = {"blue": ColorInterp.blue, "green": ColorInterp.green, "red": ColorInterp.red}


def planet_scene(folder: Path, *, width=96, height=64, bands=4, seed=0,
                 radiance=False) -> Path:
    """A PlanetScope PSScene ortho_analytic_4b_sr delivery: its AnalyticMS_SR GeoTIFF
    (uint16 surface reflectance x 10000, nodata 0 in a 10-column collar on the left,
    EPSG:32633, 3 m), its udm2 (8 uint8 bands: 1 clear, 6 cloud, 8 unusable; a cloud in
    rows 0..19, columns 40..59) and its metadata XML. ``bands`` 8: ortho_analytic_8b_sr, its
    bands described and coloured as Planet's (:data:`PLANET_8B`). ``radiance``:
    ortho_analytic_4b instead, AnalyticMS (radiance x 100), its XML giving
    :data:`PLANET_COEFFICIENTS`.
    Returns the GeoTIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = rng.integers(200, 3000, (bands, height, width)).astype("uint16")
    data[:, :, :10] = 0
    profile = {"driver": "GTiff", "width": width, "height": height, "crs": "EPSG:32633",
               "transform": from_origin(400000, 5000000, 3.0, 3.0)}
    eight = "_8b" if bands == 8 else ""
    image = folder / f"{PLANET_SCENE}_3B_AnalyticMS{'' if radiance else '_SR'}{eight}_clip.tif"
    with rasterio.open(image, "w", count=bands, dtype="uint16", nodata=0, **profile) as dst:
        dst.write(data)
        if bands == 8:  # as Planet describes them (its 4-band: left plain here)
            dst.descriptions = PLANET_8B
            dst.colorinterp = [_COLOURS.get(n, ColorInterp.undefined) for n in PLANET_8B]
    udm = np.zeros((8, height, width), "uint8")
    udm[0], udm[0, :, :10], udm[7, :, :10] = 1, 0, 1
    udm[0, :20, 40:60], udm[5, :20, 40:60] = 0, 1
    with rasterio.open(folder / f"{PLANET_SCENE}_3B_udm2_clip.tif", "w", count=8,
                       dtype="uint8", **profile) as dst:
        dst.write(udm)
    (folder / f"{PLANET_SCENE}_3B_AnalyticMS{eight}_metadata_clip.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ps:EarthObservation '
        'xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level">'
        "<ps:ResultOf><ps:EarthObservationResult>"
        + "".join(f"<ps:bandSpecificMetadata><ps:bandNumber>{b}</ps:bandNumber>"
                  "<ps:radiometricScaleFactor>0.01</ps:radiometricScaleFactor>"
                  f"<ps:reflectanceCoefficient>{c}</ps:reflectanceCoefficient>"
                  "</ps:bandSpecificMetadata>"
                  for b, c in enumerate(PLANET_COEFFICIENTS[:bands], 1))
        + "</ps:EarthObservationResult></ps:ResultOf></ps:EarthObservation>\n")
    return image


def spot5_scene(product: Path, *, x0=600000.0, width=50, height=40, seed=0) -> Path:
    """A SPOT 5 DIMAP v1 product: ``product``/SCENE01/METADATA.DIM (the name every such
    product gives it) and the IMAGERY.TIF it lists (3 uint8 bands, EPSG:32631, 10 m, from
    ``x0``). Returns the METADATA.DIM."""
    scene = product / "SCENE01"
    scene.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(1, 255, (3, height, width)).astype("uint8")
    with rasterio.open(scene / "IMAGERY.TIF", "w", driver="GTiff", width=width, height=height,
                       count=3, dtype="uint8", crs="EPSG:32631",
                       transform=from_origin(x0, 5000000, 10.0, 10.0)) as dst:
        dst.write(pixels)
    dim = scene / "METADATA.DIM"
    dim.write_text(f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<Dimap_Document name="METADATA.DIM">
 <Metadata_Id><METADATA_FORMAT version="1.1">DIMAP</METADATA_FORMAT></Metadata_Id>
 <Dataset_Id><DATASET_NAME>SCENE 5 123-456 03/05/12 10:20:30 2 J</DATASET_NAME></Dataset_Id>
 <Data_Access><DATA_FILE_FORMAT>GEOTIFF</DATA_FILE_FORMAT>
  <Data_File><DATA_FILE_PATH href="IMAGERY.TIF"/></Data_File></Data_Access>
 <Raster_Dimensions><NCOLS>{width}</NCOLS><NROWS>{height}</NROWS><NBANDS>3</NBANDS>
 </Raster_Dimensions>
 <Raster_Encoding><NBITS>8</NBITS><DATA_TYPE>UNSIGNED</DATA_TYPE></Raster_Encoding>
</Dimap_Document>
""")
    return dim


def tile_index(path: Path, tiles: list[Path], locations: list[str]) -> Path:
    """A tile index as gdaltindex writes it: one footprint polygon per tile in ``tiles``,
    its 'location' field holding ``locations`` (the paths as gdaltindex was given them)."""
    import geopandas as gpd
    from shapely.geometry import box

    footprints = []
    for tile in tiles:
        with rasterio.open(tile) as src:
            footprints.append(box(*src.bounds))
            crs = src.crs
    gpd.GeoDataFrame({"location": locations}, geometry=footprints, crs=crs).to_file(path)
    return path


def skysat_collect(folder: Path, *, width=96, height=64) -> Path:
    """A SkySat ortho collect: <collect>_analytic_SR.tif (4 uint16 bands of reflectance x
    10000, nodata 0, 0.8 m) with its _analytic_udm2.tif, and the panchromatic apart
    (_panchromatic.tif, 1 band at 0.5 m... here 0.4 m, twice the size) with its
    _panchromatic_udm2.tif. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    collect = "20200601_101530_ssc6_u0001"
    rng = np.random.default_rng(1)
    for kind, bands, scale, size in (("analytic_SR", 4, 0.8, 1), ("panchromatic", 1, 0.4, 2)):
        profile = {"driver": "GTiff", "width": width * size, "height": height * size,
                   "crs": "EPSG:32633", "transform": from_origin(400000, 5000000, scale, scale)}
        with rasterio.open(folder / f"{collect}_{kind}.tif", "w", count=bands, dtype="uint16",
                           nodata=0, **profile) as dst:
            dst.write(rng.integers(200, 3000, (bands, height * size, width * size))
                      .astype("uint16"))
        stem = kind.split("_")[0]
        with rasterio.open(folder / f"{collect}_{stem}_udm2.tif", "w", count=8, dtype="uint8",
                           **profile) as dst:
            dst.write(np.ones((8, height * size, width * size), "uint8"))
    return folder


def pleiades_product(folder: Path, *, width=60, height=40, nbits=12, seed=0) -> Path:
    """An Airbus DIMAP v2 product (Pléiades ortho): DIM_PHR1A_MS_001.XML declaring NBITS
    ``nbits`` in its Raster_Encoding and its one tile IMG_..._R1C1.TIF (4 uint16 bands up to
    2**nbits - 1, EPSG:32631, 2 m). Returns the DIM_*.XML."""
    folder.mkdir(parents=True, exist_ok=True)
    tile = "IMG_PHR1A_MS_001_R1C1.TIF"
    pixels = np.random.default_rng(seed).integers(1, 2 ** nbits, (4, height, width))
    with rasterio.open(folder / tile, "w", driver="GTiff", width=width, height=height,
                       count=4, dtype="uint16", crs="EPSG:32631",
                       transform=from_origin(600000, 5000000, 2.0, 2.0)) as dst:
        dst.write(pixels.astype("uint16"))
    dim = folder / "DIM_PHR1A_MS_001.XML"
    dim.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document>
 <Metadata_Identification><METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
  <METADATA_PROFILE>PHR_ORTHO</METADATA_PROFILE></Metadata_Identification>
 <Raster_Data>
  <Data_Access><DATA_FILE_FORMAT>image/geotiff</DATA_FILE_FORMAT>
   <Data_Files><Data_File tile_R="1" tile_C="1"><DATA_FILE_PATH href="{tile}"/></Data_File>
   </Data_Files></Data_Access>
  <Raster_Dimensions><NROWS>{height}</NROWS><NCOLS>{width}</NCOLS><NBANDS>4</NBANDS>
  </Raster_Dimensions>
  <Raster_Encoding><DATA_TYPE>UNSIGNED</DATA_TYPE><NBITS>{nbits}</NBITS></Raster_Encoding>
 </Raster_Data>
</Dimap_Document>
""")
    return dim
