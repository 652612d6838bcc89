"""Make benchmark corpora from real English text: the collections in ../shared/eval/.

Sentences of SciFact, Cranfield and SQuAD are shuffled into synthetic documents, so
a corpus of any size has a real vocabulary and real term statistics, and the same
seed always gives the same corpus.

    python bench/corpus.py folder --documents 10000 --out bench/data/docs10k
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
COLLECTIONS = ("scifact/corpus.jsonl", "cranfield/corpus.jsonl", "squad-v1.1-dev/corpus.jsonl")


def sentences(eval_dir: Path = EVAL) -> list[str]:
    """Every sentence of the shared collections (about 70,000)."""
    out: list[str] = []
    for name in COLLECTIONS:
        with open(eval_dir / name, encoding="utf-8") as handle:
            for line in handle:
                text = json.loads(line)["text"]
                out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4)
    return out


def documents(n: int, words_per_doc: int = 360, seed: int = 0) -> Iterator[str]:
    """Yield *n* documents of about *words_per_doc* words, as paragraphs of real sentences."""
    rng = random.Random(seed)
    pool = sentences()
    for _ in range(n):
        paragraphs, words, para = [], 0, []
        while words < words_per_doc:
            s = rng.choice(pool)
            para.append(s)
            words += len(s.split())
            if len(para) >= rng.randint(3, 6):
                paragraphs.append(" ".join(para))
                para = []
        if para:
            paragraphs.append(" ".join(para))
        yield "\n\n".join(paragraphs) + "\n"


def write_folder(out: Path, n: int, words_per_doc: int = 360, seed: int = 0) -> None:
    """Write *n* .txt documents under *out*, 1,000 per sub-folder."""
    for i, text in enumerate(documents(n, words_per_doc, seed)):
        folder = out / f"part{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i:07d}.txt").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["folder"])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=360, help="words per document")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write_folder(args.out, args.documents, args.words)


if __name__ == "__main__":
    main()
