"""Precision, recall and speed of the guards' classifiers on a labelled JSON Lines file.

Why: the issue sets targets on examples the classifier was not tuned on (crisis recall >= 0.98
with precision >= 0.7; technical precision >= 0.8 with recall >= 0.7; >= 10,000 messages per
second on one core). This script measures exactly that, so a change to a word list can be
judged by numbers, not by feel.

    .venv/bin/python bench/guards_eval.py                      # held-out set
    .venv/bin/python bench/guards_eval.py --also-tune          # held-out and tuning sets
    .venv/bin/python bench/guards_eval.py --file tests/data/guards/tune.jsonl --errors

Each line of the file is `{"text": ..., "lang": "fr"|"en", "labels": [...]}`, labels among
"crisis", "technical", "blame". The table gives, per class, precision, recall, F1 and support
(the number of examples labelled with it), for all examples and per language. Throughput is
the median of 5 runs over the file's texts repeated to at least 20,000 messages, on one core
(the process is pinned to one CPU where the system allows it, and timed by its own CPU time, so
that other work on the machine does not count), with the language given as in the file, and
again with the language left to detection. `--sensitive` classifies as in a group that chose
the more sensitive crisis net (`!groupe crise elevee`). `--errors` lists the misclassified
examples; use it on the tuning set only, never to tune on held-out examples. `--pure` runs
the guards' Python code even where their compiled modules are built (see setup.py), to measure
what those gain; the answers are the same.
Exit code 0; 2 if the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.guards import BLAME, Classification, classify
from bot.guards.model import compiled as sums_compiled
from bot.guards.native import PURE_PYTHON
from bot.guards.normalise import compiled as text_compiled

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "guards" / "heldout.jsonl"
TUNE = ROOT / "tests" / "data" / "guards" / "tune.jsonl"
CLASSES = ("crisis", "technical", "blame")
TARGETS = {"crisis": (0.7, 0.98), "technical": (0.8, 0.7)}  # (precision, recall)
SPEED_TARGET = 10_000
MIN_MESSAGES = 20_000
RUNS = 5


@dataclass(frozen=True)
class Example:
    text: str
    lang: str | None
    labels: frozenset[str]


def read(path: Path) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(Example(row["text"], row.get("lang"), frozenset(row.get("labels", []))))
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a labelled example ({exc})") from None
    return examples


def predicted(result: Classification) -> frozenset[str]:
    found = set()
    if result.crisis:
        found.add("crisis")
    if result.technical:
        found.add("technical")
    if BLAME in result.venting:
        found.add("blame")
    return frozenset(found)


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(pairs: Sequence[tuple[Example, frozenset[str]]], label: str) -> Score:
    tp = sum(1 for ex, got in pairs if label in ex.labels and label in got)
    fp = sum(1 for ex, got in pairs if label not in ex.labels and label in got)
    fn = sum(1 for ex, got in pairs if label in ex.labels and label not in got)
    return Score(tp, fp, fn)


def mark(label: str, s: Score) -> str:
    if label not in TARGETS or not s.support:
        return ""
    precision, recall = TARGETS[label]
    ok = s.precision >= precision and s.recall >= recall
    return f"{'met' if ok else 'MISSED'} (P>={precision}, R>={recall})"


def report(path: Path, examples: list[Example], errors: bool, sensitive: bool = False) -> None:
    pairs = [(ex, predicted(classify(ex.text, ex.lang, sensitive=sensitive))) for ex in examples]
    langs = sorted({ex.lang or "?" for ex in examples})
    print(f"\n{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    counts = ", ".join(
        f"{lang}: {sum(1 for ex in examples if (ex.lang or '?') == lang)}" for lang in langs
    )
    print(f"{len(examples)} examples ({counts})")
    header = (
        f"{'class':<10} {'lang':<4} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>7}"
        f"  {'TP':>4} {'FP':>4} {'FN':>4}  target"
    )
    print(header)
    print("-" * len(header))
    for label in CLASSES:
        for lang in ("all", *langs):
            subset = [p for p in pairs if lang == "all" or (p[0].lang or "?") == lang]
            s = score(subset, label)
            target = mark(label, s) if lang == "all" else ""
            print(
                f"{label:<10} {lang:<4} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} "
                f"{s.support:>7}  {s.tp:>4} {s.fp:>4} {s.fn:>4}  {target}"
            )
    if errors:
        print_errors(pairs)


def print_errors(pairs: Sequence[tuple[Example, frozenset[str]]]) -> None:
    for label in CLASSES:
        missed = [ex for ex, got in pairs if label in ex.labels and label not in got]
        wrong = [ex for ex, got in pairs if label not in ex.labels and label in got]
        for title, items in ((f"{label}: missed", missed), (f"{label}: false alarms", wrong)):
            if items:
                print(f"\n{title} ({len(items)})")
                for ex in items:
                    print(f"  [{ex.lang or '?'}] {ex.text}")


def pin_to_one_core() -> str:
    """Run on one CPU, as the target says; where the system cannot, say so."""
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def throughput(examples: list[Example], detect: bool) -> float:
    items = [(ex.text, None if detect else ex.lang) for ex in examples]
    repeat = -(-MIN_MESSAGES // len(items))
    batch = items * repeat
    for text, lang in items:  # warm up: data files loaded and patterns compiled
        classify(text, lang)
    rates = []
    for _ in range(RUNS):
        # CPU time of this process: other work on the machine does not count against us.
        start = time.process_time()
        for text, lang in batch:
            classify(text, lang)
        rates.append(len(batch) / (time.process_time() - start))
    return statistics.median(rates)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=HELDOUT, help="labelled JSON Lines file")
    parser.add_argument("--also-tune", action="store_true", help="also report on tune.jsonl")
    parser.add_argument("--errors", action="store_true", help="list misclassified examples")
    parser.add_argument(
        "--sensitive", action="store_true", help="as in a group that chose `!groupe crise elevee`"
    )
    parser.add_argument(
        "--pure",
        action="store_true",
        help="the guards' Python code, even where their compiled modules are built",
    )
    args = parser.parse_args(argv)
    if args.pure:
        os.environ[PURE_PYTHON] = "1"  # read at the first message, below
    paths = [args.file]
    if args.also_tune and args.file.resolve() != TUNE.resolve():
        paths.append(TUNE)
    loaded = []
    for path in paths:
        try:
            loaded.append((path, read(path)))
        except OSError as exc:
            print(f"cannot read {path}: {exc}", file=sys.stderr)
            return 2
    for path, examples in loaded:
        report(path, examples, args.errors, args.sensitive)
    path, examples = loaded[0]
    if not examples:
        return 0
    where = pin_to_one_core()
    given = throughput(examples, detect=False)
    detected = throughput(examples, detect=True)
    total = -(-MIN_MESSAGES // len(examples)) * len(examples)
    verdict = "met" if given >= SPEED_TARGET else "MISSED"
    parts = ", ".join(
        f"{name}: {'compiled' if built() else 'Python'}"
        for name, built in (("model sums", sums_compiled), ("normalisation", text_compiled))
    )
    print(
        f"\nthroughput on {path.name} x{total // len(examples)} = {total} messages, {where},"
        f" median of {RUNS} runs, CPU time; {parts}"
    )
    print(f"  language given:    {given:>9,.0f} messages/s  {verdict} (>= {SPEED_TARGET:,})")
    print(f"  language detected: {detected:>9,.0f} messages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
