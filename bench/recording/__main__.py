import sys

from bench.recording.cli import main

sys.exit(main())
