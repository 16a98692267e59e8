import sys

from laino.providers.agent import main

sys.exit(main())
