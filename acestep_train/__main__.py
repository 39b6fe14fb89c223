import sys

from acestep_train.cli import main

sys.exit(main())
