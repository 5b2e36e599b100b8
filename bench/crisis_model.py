"""Train the crisis net's learned model on the tuning set, and show what it adds, by numbers.

Why: the crisis patterns miss wordings nobody wrote down (see `bot/guards/model.py`). This
script fits a logistic regression (scikit-learn) on `tests/data/guards/tune.jsonl` only, over
the same features the bot scores at run time, and prints, for a range of thresholds, what the
model alone and the patterns-or-model combination give *out of fold* (repeated stratified
cross-validation: each example is scored by models that never saw it). It never reads the
held-out file: `bench/guards_eval.py` measures the result there.

    pip install -e '.[train]'
    .venv/bin/python bench/crisis_model.py                 # the table only
    .venv/bin/python bench/crisis_model.py --write 0.30    # train on all of tune, ship it

With `--honest FILE`, the rows of the tuning set that are also in FILE (examples added to the
tuning set after the patterns were written) get a table of their own: there the patterns were
not written from the examples, so the combination's recall is an honest estimate. With
`--ordinary FILE`, the tuning rows also in FILE (ordinary room traffic: acknowledgements,
colours, thanks) get a table too, whose "flagged" column is the share of ordinary messages
that would get the crisis message: the cost of a low threshold in a real room.
Exit code 0; 2 if a file cannot be read or scikit-learn is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.guards.classify import is_crisis, model_view  # noqa: E402
from bot.guards.model import (  # noqa: E402
    MODEL_FILE,
    SHORT_WORDS,
    CrisisModel,
    features,
    probability_of,
    word_count,
)

TUNE = ROOT / "tests" / "data" / "guards" / "tune.jsonl"
OUT = ROOT / "bot" / "guards" / "data" / MODEL_FILE
FOLDS, REPEATS, SEED = 5, 4, 20261123
THRESHOLDS = (0.1, 0.14, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DIGITS = 4


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


Fitted = tuple[dict[str, float], float, dict[str, float] | None]


def fit(rows: list[set[str]], labels: list[int], c: float, tfidf: bool) -> Fitted:
    """Weights per feature, intercept and (with `tfidf`) the idf of every feature seen, of a
    logistic regression on binary features, TF-IDF weighted and scaled to length one."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform([dict.fromkeys(r, 1) for r in rows])
    names = vectoriser.get_feature_names_out()
    idf: dict[str, float] | None = None
    if tfidf:
        transformer = TfidfTransformer()
        matrix = transformer.fit_transform(matrix)
        idf = {
            str(name): round(float(v), DIGITS)
            for name, v in zip(names, transformer.idf_, strict=True)
        }
    model = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=5000)
    model.fit(matrix, labels)
    weights = {
        str(name): round(float(w), DIGITS)
        for name, w in zip(names, model.coef_[0], strict=True)
        if abs(w) >= 10**-DIGITS
    }
    return weights, float(model.intercept_[0]), idf


def out_of_fold(
    rows: list[set[str]], labels: list[int], c: float, tfidf: bool
) -> list[list[float]]:
    """Per example, its probability from each repeat's model that did not see it."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    scores: list[list[float]] = [[] for _ in rows]
    splitter = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=REPEATS, random_state=SEED)
    for train, test in splitter.split(rows, labels):
        weights, bias, idf = fit([rows[i] for i in train], [labels[i] for i in train], c, tfidf)
        model = CrisisModel(weights, bias, threshold=0.5, idf=idf)  # threshold not used here
        for i in test:
            scores[i].append(probability_of(model.total(rows[i])))
    return scores


def table(
    title: str,
    labels: list[int],
    rules: list[bool],
    scores: list[list[float]],
    idx: list[int],
    short: dict[int, float],
) -> None:
    """`short`: the threshold of each short example, which replaces the row's threshold."""
    print(f"\n{title}: {len(idx)} examples, {sum(labels[i] for i in idx)} crisis")
    print(
        f"{'threshold':>9} {'model P':>8} {'model R':>8} {'both P':>7} {'both R':>7} {'FN':>4}"
        f" {'flagged':>8}"
    )
    r_tp = sum(1 for i in idx if labels[i] and rules[i])
    r_fp = sum(1 for i in idx if not labels[i] and rules[i])
    positives = sum(labels[i] for i in idx)
    print(
        f"{'patterns':>9} {'':>8} {'':>8} {ratio(r_tp, r_tp + r_fp):>7.3f} "
        f"{ratio(r_tp, positives):>7.3f} {positives - r_tp:>4} {ratio(r_tp + r_fp, len(idx)):>8.3f}"
    )
    for threshold in THRESHOLDS:
        m_tp = m_fp = b_tp = b_fp = 0
        for i in idx:
            cut = short.get(i, threshold)
            for s in scores[i]:  # each repeat counts once
                model, both = s >= cut, s >= cut or rules[i]
                m_tp += model and bool(labels[i])
                m_fp += model and not labels[i]
                b_tp += both and bool(labels[i])
                b_fp += both and not labels[i]
        n = REPEATS * positives
        print(
            f"{threshold:>9.2f} {ratio(m_tp, m_tp + m_fp):>8.3f} {ratio(m_tp, n):>8.3f} "
            f"{ratio(b_tp, b_tp + b_fp):>7.3f} {ratio(b_tp, n):>7.3f} {(n - b_tp) / REPEATS:>4.1f}"
            f" {ratio(b_tp + b_fp, REPEATS * len(idx)):>8.3f}"
        )


def decide_like_runtime(model: CrisisModel, text: str, lang: str) -> bool:
    """The model's vote as `classify` asks for it (blanked text, tags only when needed), to
    check that it reads what it was trained on."""
    from bot.guards.classify import _model_crisis
    from bot.guards.lexicon import Tokens
    from bot.guards.normalise import prepare

    language, norm = prepare(text, lang)
    return _model_crisis(Tokens(norm), language, model=model)


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--no-concepts", action="store_true", help="without concept tags")
    parser.add_argument(
        "--tfidf", action="store_true", help="weigh features by idf, scale each message to 1"
    )
    parser.add_argument("--write", type=float, metavar="THRESHOLD", help="ship with this threshold")
    parser.add_argument("--honest", type=Path, help="tune rows the patterns never saw")
    parser.add_argument("--ordinary", type=Path, help="tune rows of ordinary room traffic")
    parser.add_argument(
        "--sensitive", type=float, help="the threshold for groups that choose a sensitive net"
    )
    parser.add_argument(
        "--short-threshold",
        type=float,
        help=f"the threshold for messages of {SHORT_WORDS} words or fewer",
    )
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("scikit-learn is needed: pip install -e '.[train]'", file=sys.stderr)
        return 2
    try:
        data = read(TUNE)
        honest_texts = {str(r["text"]) for r in read(args.honest)} if args.honest else set()
        ordinary_texts = {str(r["text"]) for r in read(args.ordinary)} if args.ordinary else set()
    except OSError as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 2
    texts = [(str(r["text"]), str(r["lang"])) for r in data]
    labels = [int("crisis" in r["labels"]) for r in data]  # type: ignore[operator]
    concepts = not args.no_concepts
    views = [model_view(text, lang, concepts=concepts) for text, lang in texts]
    rows = [features(view) for view in views]
    short = {
        i: args.short_threshold
        for i, view in enumerate(views)
        if args.short_threshold is not None and word_count(view) <= SHORT_WORDS
    }
    rules = [is_crisis(text, lang, learned=False) for text, lang in texts]
    scores = out_of_fold(rows, labels, args.c, args.tfidf)
    print(
        f"C={args.c}, tfidf {args.tfidf}, {FOLDS}-fold x {REPEATS}, out of fold,"
        f" short threshold {args.short_threshold}"
    )
    table("tune.jsonl", labels, rules, scores, list(range(len(rows))), short)
    honest = [i for i, (text, _) in enumerate(texts) if text in honest_texts]
    if honest:
        table("rows the patterns never saw", labels, rules, scores, honest, short)
    ordinary = [i for i, (text, _) in enumerate(texts) if text in ordinary_texts]
    if ordinary:
        table(
            "ordinary room traffic (flagged: false alarms)", labels, rules, scores, ordinary, short
        )
    if args.write is not None:
        weights, bias, idf = fit(rows, labels, args.c, args.tfidf)
        digest = hashlib.sha256(TUNE.read_bytes()).hexdigest()[:16]
        model = {
            "about": "Learned crisis model: see bot/guards/model.py; made by bench/crisis_model.py",
            "trained_on": f"tests/data/guards/tune.jsonl sha256:{digest}, {len(rows)} examples",
            "c": args.c,
            "threshold": args.write,
            "short_threshold": args.short_threshold,
            "sensitive_threshold": args.sensitive,
            "bias": round(bias, DIGITS),
            "weights": dict(sorted(weights.items())),
        }
        if idf is not None:
            model["idf"] = dict(sorted(idf.items()))
        OUT.write_text(json.dumps(model, ensure_ascii=False, indent=0) + "\n", "utf-8")
        print(f"\nwrote {OUT.relative_to(ROOT)}: {len(weights)} weights, threshold {args.write}")
        shipped = CrisisModel(weights, round(bias, DIGITS), args.write, idf=idf)
        agree = sum(
            decide_like_runtime(shipped, text, lang) == (shipped.probability(view) >= args.write)
            for (text, lang), view in zip(texts, views, strict=True)
        )
        print(f"run-time decision = trained features' decision on {agree} of {len(texts)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
