"""``python -m netlab.linux``: realise a cluster in network namespaces, or check the model against the kernel."""

import sys

from .netns import main

sys.exit(main())
