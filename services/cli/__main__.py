"""`python -m services.cli`: the same as the `sbt` command."""

from services.cli.app import main

main()
