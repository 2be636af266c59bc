"""Choose the claim check's settings offline on answers captured by ``capture_answers``.

For each setting the captured raw answers are checked again (no model call) and scored the
way ``qa-bot eval`` scores them: answerable accuracy, answers shown, and wrong answers shown
with a citation (a wrong or unanswerable answer shown, or one whose citations do not hold
the gold answer). Choose on train/dev captures; report the chosen setting on valid ones.

    python -m benchmarks.tune_check /tmp/cap-facqa-train.jsonl /tmp/cap-idk-train.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path


def load(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in Path(path).open(encoding="utf-8") if line.strip()]
    return rows


def snippets_of(row: dict):
    from qa_bot.answer.select import Snippet
    from qa_bot.types import Passage

    out = []
    for s in row["snippets"]:
        p = Passage(
            "", s["passage"], s["article_id"], s["title"] or "", "", "", s["published"] or "", 0, 0, 0
        )
        out.append(Snippet(p, s["start"], s["start"] + len(s["text"]), s["score"]))
    return out


def score(rows: list[dict], answers: list) -> dict:
    from qa_bot.evaluation import contains_answer

    ans = [(r, a) for r, a in zip(rows, answers, strict=True) if r["item"]["answerable"]]
    unans = [(r, a) for r, a in zip(rows, answers, strict=True) if not r["item"]["answerable"]]
    shown = [(r, a) for r, a in zip(rows, answers, strict=True) if a.found]
    correct = sum(a.found and contains_answer(a.text, r["item"]["answers"]) for r, a in ans)
    wrong = 0
    for r, a in shown:
        golds = r["item"]["answers"]
        right = r["item"]["answerable"] and contains_answer(a.text, golds)
        held = any(contains_answer(c.text, golds) for c in a.citations) if golds else False
        wrong += not (right and held)
    return {
        "accuracy": round(correct / len(ans), 3) if ans else None,
        "refused_unanswerable": round(sum(not a.found for _, a in unans) / len(unans), 3) if unans else None,
        "shown": len(shown),
        "wrong_with_citation": wrong,
        "wwc_rate": round(wrong / len(shown), 3) if shown else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("captures", nargs="+")
    p.add_argument("--coverage", default="0.34,0.5,0.67")
    p.add_argument("--content", default="0,0.34,0.5,0.67")
    p.add_argument("--word-similarity", default="0.91")
    p.add_argument("--content-crosslingual", default="0,0.34,0.5")
    p.add_argument("--show", help="coverage,content,word-similarity: print the answers this setting changes")
    args = p.parse_args(argv)

    from qa_bot.answer.check.claim_check import ClaimCheck, SubjectThresholds, WordVectors
    from qa_bot.answer.check.finalize import finalize
    from qa_bot.config import apply_offline_env, get_settings
    from qa_bot.models.embeddings import load_embeddings

    apply_offline_env()
    rows = load(args.captures)
    word_vectors = WordVectors(load_embeddings(get_settings()).encode_passages, size=10**6)
    snippets = [snippets_of(r) for r in rows]
    base = [finalize(r["raw"], r["search"], s, r["language"]) for r, s in zip(rows, snippets, strict=True)]
    print("without the role check:", score(rows, base))

    def answers_for(coverage: float, content: float, similarity: float, across: float) -> list:
        out = []
        for r, s in zip(rows, snippets, strict=True):
            titles = [x.passage.title for x in s]
            check = ClaimCheck(
                r["search"],
                [x.text for x in s],
                titles,
                word_vectors,
                SubjectThresholds(coverage, content, similarity, across),
            )
            out.append(finalize(r["raw"], r["search"], s, r["language"], check))
        return out

    grid = itertools.product(
        *(
            map(float, x.split(","))
            for x in (args.coverage, args.content, args.word_similarity, args.content_crosslingual)
        )
    )
    for setting in grid:
        print(
            f"coverage, content, word similarity, content across {setting}: "
            f"{score(rows, answers_for(*setting))}"
        )
    if args.show:
        from qa_bot.evaluation import contains_answer

        setting = tuple(map(float, args.show.split(",")))
        for r, a0, a1 in zip(rows, base, answers_for(*setting), strict=True):
            if a0.found != a1.found:
                golds = r["item"]["answers"]
                verdict = "right" if golds and contains_answer(a0.text, golds) else "wrong"
                line = {
                    "id": r["item"]["id"],
                    "q": r["search"],
                    "gold": golds,
                    "was": a0.text,
                    "was_verdict": verdict,
                }
                print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
