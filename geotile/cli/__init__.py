"""The geotile command line (Click). Thin: parse, call the library, echo."""
