"""Side-by-side benchmarks of geotile's stages against their peers (`python -m benchmarks`)."""
