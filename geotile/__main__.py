"""`python -m geotile` runs the command line."""

from geotile.cli.main import main

main()
