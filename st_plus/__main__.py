import sys

from st_plus.cli import main

sys.exit(main())
