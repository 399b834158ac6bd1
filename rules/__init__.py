"""Rule packs and the requirements catalog, shipped as data inside the wheel."""

from pathlib import Path

PACK_DIR = Path(__file__).parent
CATALOG_PATH = PACK_DIR / "requirements.yaml"
