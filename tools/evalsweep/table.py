"""Combines `spladeq eval --sweep --out SET.json` reports into one table.

    python3 tools/evalsweep/table.py [--chosen NAME] go-stdlib.json python-stdlib.json manpages.json

prints a Markdown table of nDCG@10 for every setting on every set, plus the
mean over the sets, best mean first; the default configured when the sweep
ran (the report's "default": true) is marked with a star, the setting NAME
given by --chosen is in bold, and the settings within 0.005 of the best mean
are named below the table. Only settings every report has are ranked.
Standard library only.
"""
import json
import os
import sys


def main(paths, chosen=None):
    reports = []
    for p in paths:
        with open(p) as f:
            reports.append(json.load(f))
    names = [os.path.basename(r["dataset"].rstrip("/")) for r in reports]
    by = [{res["name"]: res for res in r["results"]} for r in reports]
    common = [n for n in by[0] if all(n in b for b in by[1:])]
    rows = []
    for n in common:
        scores = [b[n]["ndcg_at_10"] for b in by]
        rows.append((sum(scores) / len(scores), n, scores, any(b[n].get("default") for b in by)))
    rows.sort(key=lambda r: -r[0])
    print("| setting | " + " | ".join(names) + " | mean |")
    print("|---|" + "---|" * (len(names) + 1))
    for mean, n, scores, default in rows:
        label = ("**%s**" % n) if n == chosen else n
        if default:
            label += " \\*"
        print("| %s | %s | %.4f |" % (label, " | ".join("%.4f" % s for s in scores), mean))
    best = rows[0][0]
    near = [n for mean, n, _, _ in rows if best - mean <= 0.005]
    print()
    print("best mean nDCG@10 %.4f (%s); within 0.005 of it: %s" % (best, rows[0][1], ", ".join(near)))


if __name__ == "__main__":
    args, chosen = sys.argv[1:], None
    if args[:1] == ["--chosen"] and len(args) > 1:
        chosen, args = args[1], args[2:]
    if not args:
        sys.exit(__doc__)
    main(args, chosen)
