"""Add the columns of the search-export import to a screening log written before it.

Usage: python scripts/migrate_screening.py [data/screening.csv]

Keeps every existing column and value; adds reason_code (exclusions, from the reason text by
review.data.screen.REASON_RULES), doi / pmid / nct (parsed from identifier), and the empty columns
duplicate_of, title, year, export_hash, export_record. Running it twice changes nothing.
The file is rewritten atomically.
"""

import sys
from pathlib import Path

import pandas as pd
from review.data import screen

path = Path(sys.argv[1] if len(sys.argv) > 1 else "data/screening.csv")
frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
screen.write_atomic(screen.migrate(frame), path)
print(f"{path}: {len(frame)} row(s) migrated")
