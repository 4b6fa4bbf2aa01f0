"""``python -m companion.relay`` is the same as ``companion-relay``."""

from .server import main

raise SystemExit(main())
