"""Check the guards data set and print its counts.

    python tests/data/guards/check_dataset.py

Each line of tune.jsonl and heldout.jsonl must be a JSON object with exactly
"text" (non-empty), "lang" ("fr" or "en") and "labels" (a list, without repeats,
of "crisis", "technical", "blame"). No text may appear twice, within a file or
across the two (compared case-, accent- and punctuation-insensitively).
Exits 1 on the first problem found.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("tune.jsonl", "heldout.jsonl")
LABELS = ("crisis", "technical", "blame")
LANGS = ("fr", "en")


def key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.sub(r"[^\w]+", " ", folded).split()
    return " ".join(words) or text


def load(name: str) -> list[dict[str, object]]:
    rows = []
    with open(HERE / name, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            row = json.loads(line)
            where = f"{name}:{n}"
            if set(row) != {"text", "lang", "labels"}:
                sys.exit(f"{where}: keys {sorted(row)}")
            if not isinstance(row["text"], str) or not row["text"].strip():
                sys.exit(f"{where}: empty text")
            if row["lang"] not in LANGS:
                sys.exit(f"{where}: lang {row['lang']!r}")
            labels = row["labels"]
            if not isinstance(labels, list) or len(set(labels)) != len(labels):
                sys.exit(f"{where}: labels {labels!r}")
            if not set(labels) <= set(LABELS):
                sys.exit(f"{where}: unknown label in {labels!r}")
            rows.append(row)
    return rows


def main() -> None:
    data = {name: load(name) for name in FILES}
    seen: dict[str, str] = {}
    for name, rows in data.items():
        for row in rows:
            k = key(str(row["text"]))
            if k in seen:
                sys.exit(f"duplicate text in {name} and {seen[k]}: {row['text']!r}")
            seen[k] = name

    cols = ["examples", "fr", "en", *LABELS, "none"]
    print("| file | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    total: Counter[str] = Counter()
    for name, rows in data.items():
        c: Counter[str] = Counter()
        for row in rows:
            c["examples"] += 1
            c[str(row["lang"])] += 1
            labels = list(row["labels"])  # type: ignore[call-overload]
            for label in labels:
                c[label] += 1
            if not labels:
                c["none"] += 1
        total.update(c)
        print(f"| {name} | " + " | ".join(str(c[k]) for k in cols) + " |")
    print("| all | " + " | ".join(str(total[k]) for k in cols) + " |")


if __name__ == "__main__":
    main()
