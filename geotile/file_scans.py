"""A raster's scan (its pixels read once to tell what they hold), kept per file: rescanned
only when the file, or a file a VRT reads, changed."""

from __future__ import annotations

import os

#: scans kept in each cache; the oldest dropped first
KEPT = 256


def per_file(cache: dict, src, compute):
    """``compute(src)``, once per file: kept in ``cache`` by absolute path, shape, inode,
    size and modification and change times (a file replaced by one of the same modification
    time, as tar, ``cp -p`` or rsync leave it, is another: its change time moved; the oldest
    of :data:`KEPT` dropped first); a VRT by those of every file it reads too (its sources
    change apart from it); each time for a raster in memory or remote (no modification time
    tells a rewrite)."""
    from geotile.input_sources import files_read

    files = files_read(str(src.name)) if src.driver == "VRT" else [str(src.name)]
    try:
        stats = [os.stat(str(f)) for f in files]
    except (OSError, ValueError):
        return compute(src)
    key = (os.path.abspath(str(src.name)), src.shape, *(
        (i.st_dev, i.st_ino, i.st_size, i.st_mtime_ns, i.st_ctime_ns) for i in stats))
    if key not in cache:
        if len(cache) >= KEPT:
            del cache[next(iter(cache))]
        cache[key] = compute(src)
    return cache[key]
