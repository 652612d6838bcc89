"""Allow ``python -m service`` as a synonym of the ``docqa`` command."""

from service.cli import main

main()
