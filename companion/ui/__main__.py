from pathlib import Path

from companion.paths import data_dir
from companion.ui.app import run

raise SystemExit(run(Path(data_dir())))
