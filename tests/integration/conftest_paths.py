"""Where the collection is importable from (see tools/collection_path.py)."""
import collection_path

COLLECTIONS_DIR = collection_path.ensure()
