"""`python -m pyregistry serve CONFIG.yml`."""
import sys

from pyregistry.cli import main

sys.exit(main())
