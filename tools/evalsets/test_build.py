"""Tests of build.py (python3 -m unittest discover -s tools/evalsets)."""

import json
import os
import tempfile
import unittest

import build

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*path):
    with open(os.path.join(*path), encoding="utf-8") as f:
        return f.read()


def item(i, query, body, title=None):
    return dict(id="t:%03d" % i, title=title or "t%d" % i, query=query, body=body, text=body,
                source="test", licence="test")


# Distinct bodies: each word appears in one body only, so no two share a shingle.
def body(i, n=30):
    return " ".join("w%dx%d" % (i, k) for k in range(n))


class RoffTest(unittest.TestCase):
    def test_sections(self):
        secs = build.roff_sections(read(HERE, "testdata", "frob.1"))
        self.assertEqual(secs["NAME"], ["frob, unfrob - turn widgets into gadgets"])
        self.assertEqual(secs["DESCRIPTION"], [
            "frob reads each FILE and writes its gadget form \u2014 one per line - to standard output.",
            "-v, --verbose print a line per widget",
            "Exit status is zero on success.",
        ])
        self.assertEqual(secs["SEE ALSO"], ["unfrob(1)"])
        self.assertNotIn("Vb", json.dumps(secs))  # macro definitions are no text

    def test_unescape(self):
        self.assertEqual(build.unescape(r"a\-b \fBc\fP \(lqd\(rq \[u00E9] \s-1e\s0\&"), "a-b c \u201cd\u201d \u00e9 e")


class SourceTest(unittest.TestCase):
    def test_go_query_drops_the_name(self):
        self.assertEqual(build.go_query("Println formats using the default formats.", "func", "Println", "fmt"),
                         "formats using the default formats.")
        self.assertEqual(build.go_query("Package fmt implements formatted I/O.", "package", "", "fmt"),
                         "implements formatted I/O.")
        self.assertEqual(build.go_query("A Buffer is a variable-sized buffer.", "type", "Buffer", "bytes"),
                         "is a variable-sized buffer.")
        self.assertEqual(build.go_query("Read reads data.", "method", "Buffer.Read", "bytes"), "reads data.")
        self.assertEqual(build.go_query("Returns the thing.", "func", "Other", "x"), "Returns the thing.")

    def test_py_summary(self):
        import ast

        fn = ast.parse("def f(a, b=1):\n    pass\n").body[0]
        it = build.py_item(fn, "m", ["f"], "Return the sum.\n\nMore words here.")
        self.assertEqual((it["query"], it["body"], it["title"]), ("Return the sum.", "More words here.", "m.f"))
        self.assertEqual(it["text"], "def f(a, b=1)\n\nMore words here.")
        it = build.py_item(fn, "m", ["f"], "Return the sum of a and\nb. Raise on overflow.")
        self.assertEqual((it["query"], it["body"]), ("Return the sum of a and b.", "Raise on overflow."))
        # An abbreviation is no sentence end; a one-paragraph docstring without one gives nothing.
        self.assertIsNone(build.py_item(fn, "m", ["f"], "Use sums, e.g. Kahan's. More."))
        self.assertIsNone(build.py_item(fn, "m", ["f"], "Return the sum."))

    def test_helpers(self):
        self.assertEqual(build.drop_words("One two.\n\nThree  four", 2), "Three  four")
        self.assertEqual(build.cut_words("a b\n\nc d", 3), "a b\n\nc")
        # parse HTTP Header ( x _ y ): 8; a word over 8 letters counts 2.
        self.assertEqual(build.approx_tokens("parseHTTPHeader(x_y)"), 8)
        self.assertEqual(build.approx_tokens("internationalization 42"), 3)


class AssembleTest(unittest.TestCase):
    def items(self):
        its = [item(i, "describe thing number %d well" % i, body(i)) for i in range(40)]
        its.append(item(40, "too short body here", "only five words in it"))
        its.append(item(41, "a summary said twice", body(41)))
        its.append(item(42, "a summary said twice", body(42)))
        its.append(item(43, "Deprecated: use the other one", body(43)))
        its.append(item(44, "near duplicate of forty five", body(44, 40) + " tail"))
        its.append(item(45, "near duplicate of forty four", body(44, 40) + " other"))
        its.append(item(46, "summary inside the body", "the summary inside the body is " + body(46)))
        its.append(item(47, "identical body kept once", body(1)))
        its.append(item(48, "a long document to find", body(48, 400)))
        return its

    def test_filters(self):
        corpus, qitems, stats = build.assemble(self.items(), docs=45, queries=100, long_queries=5)
        qids = {it["id"] for it in qitems}
        cids = {it["id"] for it in corpus}
        self.assertTrue(qids <= cids)
        for dropped in ("t:040", "t:047"):  # short body; same body as t:001 (which sorts first)
            self.assertNotIn(dropped, cids)
        for not_query in ("t:041", "t:042", "t:043", "t:044", "t:045", "t:046"):
            self.assertNotIn(not_query, qids)
        self.assertIn("t:044", cids)  # near-duplicates stay as distractors
        self.assertEqual(len(qitems), 41)  # t:000..t:039 and t:048
        self.assertEqual(stats["not a query: query text repeats"], 2)
        self.assertEqual(stats["not a query: body has a near-duplicate"], 2)
        self.assertEqual(stats["not a query: ambiguous summary"], 1)
        self.assertEqual(stats["not a query: summary repeated in the body"], 1)

    def test_deterministic_sample_and_long_split(self):
        a = build.assemble(self.items(), docs=20, queries=10, long_queries=1)
        b = build.assemble(list(reversed(self.items())), docs=20, queries=10, long_queries=1)
        self.assertEqual([it["id"] for it in a[0]], [it["id"] for it in b[0]])
        self.assertEqual([it["id"] for it in a[1]], [it["id"] for it in b[1]])
        self.assertEqual(len(a[0]), 20)
        tests = [it for it in a[1] if it["split"] == "test"]
        self.assertEqual(len(tests), 10)
        # The one long candidate is in the long split, sampled or topped up.
        self.assertIn("t:048", [it["id"] for it in a[1]])

    def test_write_set(self):
        corpus, qitems, stats = build.assemble(self.items(), docs=30, queries=10, long_queries=1)
        with tempfile.TemporaryDirectory() as d:
            info = build.write_set(d, "s", "desc", corpus, qitems, stats)
            base = os.path.join(d, "s")
            docs = [json.loads(l) for l in read(base, "corpus.jsonl").splitlines()]
            self.assertEqual(sorted(docs[0]), ["_id", "text", "title"])
            ids = {x["_id"] for x in docs}
            self.assertEqual(len(ids), 30)
            queries = {json.loads(l)["_id"] for l in read(base, "queries.jsonl").splitlines()}
            rows = {}
            for split in ("test", "long", "short"):
                lines = read(base, "qrels", split + ".tsv").splitlines()
                self.assertEqual(lines[0], "query-id\tcorpus-id\tscore")
                rows[split] = [l.split("\t") for l in lines[1:]]
                for q, c, score in rows[split]:
                    self.assertIn(q, queries)
                    self.assertIn(c, ids)
                    self.assertEqual(score, "1")
            self.assertEqual(len(rows["test"]), 10)
            self.assertEqual(info["queries"], 10)
            tokens = {l.split("\t")[0]: int(l.split("\t")[2]) for l in read(base, "sources.tsv").splitlines()[1:]}
            self.assertTrue(rows["long"] and all(tokens[c] > build.LONG_TOKENS for _, c, _ in rows["long"]))
            self.assertTrue(all(tokens[c] <= build.LONG_TOKENS for _, c, _ in rows["short"]))
            self.assertEqual({q for q, _, _ in rows["short"]} | {q for q, _, _ in rows["long"] if q in {r[0] for r in rows["test"]}},
                             {q for q, _, _ in rows["test"]})


if __name__ == "__main__":
    unittest.main()
