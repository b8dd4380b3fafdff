#!/usr/bin/env python3
"""Build known-item retrieval sets in BEIR layout from documentation text found
on this machine (see tools/evalsets/README.md).

Each source yields items: an id, a title, a one-line summary written by the
text's authors, and the body that follows the summary. The summary becomes the
query, the body (without the summary) the one relevant document; the other
bodies are distractors. Python standard library only, deterministic: inputs
are read in sorted order and sampling uses a fixed seed.

    python3 tools/evalsets/build.py --out .deps/evalsets [--sets go-stdlib,python-stdlib,manpages]
"""

import argparse
import ast
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict

SEED = 19
DOCS = 2000  # documents per set
QUERIES = 300  # queries per set
LONG_TOKENS = 300  # a document over this many (approximate) tokens is "long"
LONG_QUERIES = 100  # queries in qrels/long.tsv (sampled ones first, then topped up)
MIN_BODY_WORDS = 20
MAX_BODY_WORDS = 1200  # bodies are cut here (long enough for the long split)
NEAR_DUP = 0.5  # shingle Jaccard above which two bodies are near-duplicates

# Summaries that do not describe the thing (a reader could not tell which
# document they point to).
AMBIGUOUS = re.compile(
    r"^(deprecated|see |same as|alias|like |equivalent to|undocumented|"
    r"for internal use|internal use|todo|xxx|not implemented|this is an? |"
    r"this (function|method|class|module|program|command|page|manual)|"
    r"implements? the \w+ interface|documentation for|the \w+ command|"
    r"override|overrides|helper (function|method|class)|dummy|stub|"
    r"please |note:|warning:|obsolete|legacy)",
    re.I,
)


# ---------------------------------------------------------------- text helpers

def fold(s):
    return " ".join(s.split())


def words(s):
    return s.split()


def norm(s):
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^\sA-Za-z\d]")


def approx_tokens(s):
    """Approximate BERT word-pieces: letters runs (camelCase and snake_case
    parts separately), digit runs and each punctuation mark count one; words
    of more than 8 letters count two."""
    n = 0
    for t in _TOKEN.findall(s):
        n += 2 if len(t) > 8 else 1
    return n


def drop_words(text, n):
    """text without its first n whitespace-separated words, layout kept."""
    pos = 0
    for _ in range(n):
        m = re.compile(r"\s*\S+").match(text, pos)
        if not m:
            return ""
        pos = m.end()
    return text[pos:].strip()


def cut_words(text, n):
    """text up to its n-th word, layout kept."""
    it = list(re.finditer(r"\S+", text))
    if len(it) <= n:
        return text.strip()
    return text[: it[n - 1].end()].strip()


def is_long(it):
    return approx_tokens(it["title"] + " " + it["text"]) > LONG_TOKENS


def shingles(s, k=5):
    w = norm(s).split()
    return {" ".join(w[i : i + k]) for i in range(max(1, len(w) - k + 1))}


# ------------------------------------------------------------------ go-stdlib

def go_query(synopsis, kind, name, package):
    """The synopsis names what it documents ("Println formats ...",
    "Package fmt implements ...", "A Buffer is ..."): the query keeps the
    description without the name, so that it is no lookup of the name."""
    w = words(synopsis)
    name = name.split(".")[-1] if name else package.split("/")[-1]
    if kind == "package" and len(w) > 1 and w[0] == "Package":
        w = w[2:]
    elif w and w[0].rstrip(",:") == name:
        w = w[1:]
    elif len(w) > 1 and w[0] in ("A", "An", "The") and w[1].rstrip(",:") == name:
        w = w[2:]
    return " ".join(w)


def go_items(repo):
    goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    src = os.path.join(goroot, "src")
    out = subprocess.run(
        ["go", "run", "./tools/evalsets/goextract", "-src", src],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout
    version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    items = []
    for line in out.splitlines():
        r = json.loads(line)
        syn = fold(r["synopsis"])
        if not syn:
            continue
        body = drop_words(r["doc"], len(words(syn)))
        query = go_query(syn, r["kind"], r["name"], r["package"])
        decl = "\n".join(r["decl"].splitlines()[:12])
        title = r["id"]
        text = (decl + "\n\n" + body).strip() if decl else body
        items.append(dict(
            id="go:" + r["id"], title=title, query=query, body=body, text=text,
            source="GOROOT/src/" + r["file"], licence="BSD-3-Clause (Go " + version + ", GOROOT/LICENSE)",
        ))
    return items


# -------------------------------------------------------------- python-stdlib

PY_SKIP = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "turtledemo",
           "ensurepip", "pydoc_data", "__pycache__", "encodings", "__phello__", "config-3.11-x86_64-linux-gnu"}


def py_items(repo):
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    version = "%d.%d.%d" % sys.version_info[:3]
    files = []
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in PY_SKIP and not d.startswith(("_", ".")))
        for f in sorted(filenames):
            if f.endswith(".py") and not f.startswith("_") or f == "__init__.py":
                files.append(os.path.join(dirpath, f))
    files.sort()
    items = []
    for path in files:
        rel = os.path.relpath(path, stdlib)
        mod = rel[:-3].replace(os.sep, ".")
        if mod.endswith(".__init__"):
            mod = mod[: -len(".__init__")]
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue

        def visit(node, qual):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                item = py_item(node, mod, qual, doc)
                if item:
                    item.update(source="Lib/" + rel, licence="PSF-2.0 (CPython " + version + ")")
                    items.append(item)
            for child in getattr(node, "body", []):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if child.name.startswith("_"):
                        continue
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        continue  # nested helpers
                    visit(child, qual + [child.name])

        visit(tree, [])
    return items


def py_item(node, mod, qual, doc):
    doc = doc.strip()
    paras = re.split(r"\n\s*\n", doc, maxsplit=1)
    if "\n" not in paras[0] and len(paras) == 2:
        # PEP 257: a one-line summary, a blank line, then the rest.
        summary, body = fold(paras[0]), paras[1].strip()
    else:
        # Otherwise the first sentence of the first paragraph.
        m = re.match(r"(.+?[.!?])\s+(?=[A-Z(\"'`])", paras[0], re.S)
        if not m or re.search(r"\b(e\.g|i\.e|etc|vs|cf)\.$", m.group(1)):
            return None
        summary, body = fold(m.group(1)), doc[m.end() :].strip()
    name = ".".join([mod] + qual)
    sig = ""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        sig = "def %s(%s)" % (node.name, ast.unparse(node.args))
    elif isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        sig = "class %s(%s)" % (node.name, bases) if bases else "class " + node.name
    text = (sig + "\n\n" + body).strip() if sig else body
    return dict(id="py:" + name, title=name, query=summary, body=body, text=text)


# ------------------------------------------------------------------- manpages

MAN_SECTIONS = ("man1", "man3", "man5", "man7", "man8")
MAN_PER_PACKAGE = 100  # pages per package at most (google-cloud-cli alone ships 16k)

_ESC_CHARS = {
    "em": "\u2014", "en": "\u2013", "aq": "'", "dq": '"', "lq": "\u201c", "rq": "\u201d", "oq": "\u2018",
    "cq": "\u2019", "bu": "\u2022", "co": "\u00a9", "rg": "\u00ae", "tm": "\u2122", "hy": "-", "mi": "-",
    "pl": "+", "eq": "=", "ga": "`", "ha": "^", "ti": "~", "lt": "<", "gt": ">", "rs": "\\", "sl": "/",
    "ba": "|", "br": "|", "ul": "_", "de": "\u00b0", "mu": "\u00d7", "->": "\u2192", "<-": "\u2190",
    "Fo": "\u00ab", "Fc": "\u00bb", "fo": "\u2039", "fc": "\u203a", "at": "@", "sh": "#", "dg": "\u2020",
    "R": "\u00ae", "Tm": "\u2122",
}

_ESC = re.compile(
    r"\\(?:"
    r"f(?:\(..|\[[^\]]*\]|.)"  # font
    r"|s[-+]?(?:\(\d\d|\[\d+\]|'\d+'|\d)"  # size
    r"|\*(?:\(..|\[[^\]]*\]|.)"  # string
    r"|n[-+]?(?:\(..|\[[^\]]*\]|.)"  # register
    r"|\((..)"  # special char (group 1)
    r"|\[([^\]]*)\]"  # special char (group 2)
    r"|[hvwlLxNoDXbZHSRk]'[^']*'"  # quoted-argument escapes
    r"|[kgzYmM](?:\(..|\[[^\]]*\]|.)"
    r"|(.))",  # single char (group 3)
    re.S,
)


def _esc(m):
    name = m.group(1) or m.group(2)
    if name is not None:
        if name.startswith("u") and re.fullmatch(r"u[0-9A-Fa-f]{4,5}", name):
            return chr(int(name[1:], 16))
        return _ESC_CHARS.get(name, "")
    c = m.group(3)
    if c is None:
        if m.group(0).startswith("\\*"):
            s = m.group(0)[2:].strip("([]")
            return {"lq": "\u201c", "rq": "\u201d", "R": "\u00ae", "Tm": "\u2122", "aq": "'"}.get(s, "")
        return ""
    return {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "'": "'", "`": "`",
            ".": ".", "t": " ", "_": "_", "@": "@", "^": "", "|": "", "&": "", "%": "", "c": "",
            ":": "", "!": "", "{": "", "}": "", "p": "", "r": "", "u": "", "d": "", "a": "", "E": "\\"}.get(c, "")


def unescape(s):
    s = re.sub(r'\\".*$', "", s)
    return _ESC.sub(_esc, s)


def macro_args(s):
    out, cur, quoted, i, any_ = [], [], False, 0, False
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i : i + 2])
            i += 2
            any_ = True
            continue
        if c == '"':
            if quoted and i + 1 < len(s) and s[i + 1] == '"':
                cur.append('"')
                i += 2
                continue
            quoted = not quoted
            any_ = True
        elif c in " \t" and not quoted:
            if any_:
                out.append("".join(cur))
            cur, any_ = [], False
        else:
            cur.append(c)
            any_ = True
        i += 1
    if any_:
        out.append("".join(cur))
    return out


_SKIP_BLOCK = {"de", "de1", "am", "ig", "TS", "EQ", "PS"}
_END_BLOCK = {"de": "..", "de1": "..", "am": "..", "ig": "..", "TS": ".TE", "EQ": ".EN", "PS": ".PE"}
_BREAK = {"PP", "LP", "P", "TP", "TQ", "IP", "HP", "sp", "br", "Pp", "Bl", "El", "It", "Bd", "Ed", "RS", "RE",
          "SS", "Ss", "nf", "fi", "EX", "EE", "Dl", "D1", "YS", "SY"}
_TEXT = {"B", "I", "SM", "SB", "BR", "IR", "RB", "RI", "BI", "IB", "OP", "UR", "MT", "Nm", "Ar", "Pa", "Cm", "Ev",
         "Ic", "Li", "Em", "Sy", "Dv", "Er", "Fn", "Fa", "Ft", "Va", "Vt", "Xr", "Op", "Oo", "Oc", "Ql", "Dq", "Sq",
         "Pq", "Aq", "Ad", "An", "Lk", "Mt", "Ms", "St", "At", "Bx", "Nx", "Fx", "Ox", "Ux", "Tn", "Cd", "Ux", "Ns", "Ox"}
_MDOC = set("Nm Ar Pa Cm Ev Ic Li Em Sy Dv Er Fn Fa Ft Va Vt Xr Op Oo Oc Ql Dq Sq Pq Aq Ad An Lk Mt Ms St Fl Ns No Pf Sx Tn Cd".split())


def read_man_page(path):
    """The roff source of the man page at path (gzipped or not), or None when
    it cannot be read or only redirects to another page (.so)."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            src = f.read()
    except (OSError, EOFError):
        return None
    if re.search(r"^\.so\s", src, re.M) and len(src) < 200:
        return None
    return src


def roff_sections(src):
    """The man page's sections as {NAME: [paragraph, ...]} (man and mdoc)."""
    sections, cur, para = {}, None, []
    end = None

    def flush():
        nonlocal para
        t = fold(" ".join(para))
        if cur is not None and t:
            sections.setdefault(cur, []).append(t)
        para = []

    for raw in src.splitlines():
        if end is not None:
            if raw.strip().startswith(end):
                end = None
            continue
        if raw[:1] in (".", "'"):
            m = re.match(r"[.']\s*([^\s\\]+)\s*(.*)$", raw)
            if not m:
                continue
            mac, rest = m.group(1), m.group(2)
            if mac in _SKIP_BLOCK:
                end = _END_BLOCK[mac]
                continue
            if mac in ("SH", "Sh"):
                flush()
                cur = fold(unescape(" ".join(macro_args(rest)))).upper()
                continue
            if mac == "Nd":
                para.append("\\-" + " " + rest)
                continue
            if mac in _BREAK:
                flush()
                if mac in ("IP",) and rest:
                    para.append(macro_args(rest)[0])
                continue
            if mac in _TEXT or mac == "Fl":
                args = macro_args(rest)
                if mac in _MDOC or mac == "Fl":
                    out = []
                    for a in args:
                        if a == "Fl":
                            out.append("-")
                        elif a in _MDOC:
                            continue
                        else:
                            out.append(a)
                    if mac == "Fl":
                        out = ["-" + (out[0] if out else "")] + out[1:]
                    args = out
                    para.append(" ".join(args))
                else:
                    para.append((" " if mac in ("B", "I", "SM", "SB") else "").join(args))
                continue
            continue  # any other request: no text
        if raw.strip() == "":
            flush()
            continue
        para.append(raw)
    flush()
    return {k: [fold(unescape(p)) for p in v if fold(unescape(p))] for k, v in sections.items()}


def dpkg_owners():
    owners = {}
    info = "/var/lib/dpkg/info"
    if not os.path.isdir(info):
        return owners
    for f in sorted(os.listdir(info)):
        if f.endswith(".list"):
            pkg = f[: -len(".list")].split(":")[0]
            with open(os.path.join(info, f), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.startswith("/usr/share/man/"):
                        owners[line.rstrip("\n")] = pkg
    return owners


_licences = {}


def package_licence(pkg):
    if pkg in _licences:
        return _licences[pkg]
    path = "/usr/share/doc/%s/copyright" % pkg
    lic = "unknown (no %s)" % path
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        # Machine-readable copyright: the licence of the "Files: *" stanza.
        m = re.search(r"^Files:[ \t]*\*[ \t]*\n(?:[^\n]+\n)*?License:[ \t]*([^\n]+)", text, re.M)
        if not m:
            m = re.search(r"^License:[ \t]*([^\n]+)", text, re.M)
        lic = (fold(m.group(1)) if m else "not machine-readable, see") + " (" + path + ")"
    except OSError:
        pass
    _licences[pkg] = lic
    return lic


def man_items(repo):
    base = "/usr/share/man"
    owners = dpkg_owners()
    pages = []
    for sec in MAN_SECTIONS:
        d = os.path.join(base, sec)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            pages.append(p)
    by_pkg = defaultdict(list)
    for p in pages:
        by_pkg[owners.get(p, "(unowned)")].append(p)
    rng = random.Random(SEED)
    chosen = []
    for pkg in sorted(by_pkg):
        ps = by_pkg[pkg]
        if len(ps) > MAN_PER_PACKAGE:
            ps = sorted(rng.sample(ps, MAN_PER_PACKAGE))
        chosen += [(p, pkg) for p in ps]
    chosen.sort()
    items = []
    for path, pkg in chosen:
        src = read_man_page(path)
        if src is None:
            continue
        secs = roff_sections(src)
        name = " ".join(secs.get("NAME", []))
        m = re.match(r"(.+?)\s+(?:-|\u2013|\u2014|--)\s+(.+)$", name)
        desc = secs.get("DESCRIPTION") or secs.get("OVERVIEW")
        if not m or not desc:
            continue
        names, summary = fold(m.group(1)), fold(m.group(2))
        body = cut_words("\n\n".join(desc), MAX_BODY_WORDS)
        fname = os.path.basename(path)
        fname = fname[:-3] if fname.endswith(".gz") else fname
        page, _, section = fname.rpartition(".")
        title = "%s(%s)" % (names, section)
        items.append(dict(
            id="man:%s.%s" % (page, section), title=title, query=summary, body=body, text=body,
            source=path, licence="%s: %s" % (pkg, package_licence(pkg)),
        ))
    return items


# ------------------------------------------------------------------- assembly

SOURCES = {
    "go-stdlib": (go_items, "Go standard library doc comments (go/doc): query = a declaration's first sentence without its name, document = declaration + the rest of the comment."),
    "python-stdlib": (py_items, "Python standard library docstrings (ast): query = the PEP 257 summary line, document = signature + the rest of the docstring."),
    "manpages": (man_items, "English man pages under /usr/share/man (sections 1, 3, 5, 7, 8; at most %d per package): query = the NAME line's description, document = the DESCRIPTION section." % MAN_PER_PACKAGE),
}


def assemble(items, docs=DOCS, queries=QUERIES, long_queries=LONG_QUERIES):
    """Filter, de-duplicate and sample; returns (corpus, queries, stats)."""
    stats = Counter(extracted=len(items))
    kept, seen_ids = [], set()
    for it in items:
        it["query"] = fold(it["query"])
        it["body"] = cut_words(it["body"], MAX_BODY_WORDS)
        it["text"] = cut_words(it["text"], MAX_BODY_WORDS + 60)
        if it["id"] in seen_ids:
            stats["dropped: repeated id"] += 1
            continue
        seen_ids.add(it["id"])
        if len(words(it["body"])) < MIN_BODY_WORDS:
            stats["dropped: body under %d words" % MIN_BODY_WORDS] += 1
            continue
        kept.append(it)
    # Identical bodies (after normalisation): keep the first by id.
    kept.sort(key=lambda it: it["id"])
    by_body, uniq = set(), []
    for it in kept:
        k = norm(it["body"])
        if k in by_body:
            stats["dropped: repeated body"] += 1
            continue
        by_body.add(k)
        uniq.append(it)
    # Query candidates: a describing summary that no other item shares, not
    # repeated verbatim in its body, whose body has no near-duplicate.
    qcount = Counter(norm(it["query"]) for it in uniq)
    sh = {it["id"]: shingles(it["body"]) for it in uniq}
    index = defaultdict(list)
    for it in uniq:
        for s in sh[it["id"]]:
            index[s].append(it["id"])
    near = set()
    for it in uniq:
        a = sh[it["id"]]
        overlap = Counter()
        for s in a:
            if len(index[s]) > 50:  # boilerplate shingle: counted, not indexed against
                continue
            for other in index[s]:
                if other != it["id"]:
                    overlap[other] += 1
        for other, n in overlap.items():
            if n / (len(a) + len(sh[other]) - n) > NEAR_DUP:
                near.add(it["id"])
                break
    cands = []
    for it in uniq:
        q = it["query"]
        nq = norm(q)
        if len(words(q)) < 3 or len(words(q)) > 40:
            why = "query under 3 or over 40 words"
        elif AMBIGUOUS.match(q):
            why = "ambiguous summary"
        elif qcount[nq] > 1:
            why = "query text repeats"
        elif nq and nq in norm(it["body"]):
            why = "summary repeated in the body"
        elif it["id"] in near:
            why = "body has a near-duplicate"
        else:
            cands.append(it)
            continue
        stats["not a query: " + why] += 1
    rng = random.Random(SEED)
    qitems = sorted(rng.sample(cands, min(queries, len(cands))), key=lambda it: it["id"])
    for it in qitems:
        it["split"] = "test"
    # The long split: the sampled queries whose document is long, topped up
    # to LONG_QUERIES with more candidates of a long document (those are in
    # queries.jsonl and qrels/long.tsv only, so test.tsv stays a plain sample).
    qids = {it["id"] for it in qitems}
    nlong = sum(is_long(it) for it in qitems)
    extra = [it for it in cands if it["id"] not in qids and is_long(it)]
    extra = rng.sample(extra, max(0, min(long_queries - nlong, len(extra))))
    for it in extra:
        it["split"] = "long"
    qitems = sorted(qitems + extra, key=lambda it: it["id"])
    qids = {it["id"] for it in qitems}
    rest = [it for it in uniq if it["id"] not in qids]
    fill = rng.sample(rest, min(max(0, docs - len(qitems)), len(rest)))
    corpus = sorted(qitems + fill, key=lambda it: it["id"])
    stats["query candidates"] = len(cands)
    return corpus, qitems, stats


def write_set(out, name, desc, corpus, qitems, stats):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "qrels"), exist_ok=True)
    ids = {}
    for i, it in enumerate(corpus):
        ids[it["id"]] = "d%05d" % i
    with open(os.path.join(d, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for it in corpus:
            f.write(json.dumps({"_id": ids[it["id"]], "title": it["title"], "text": it["text"]}, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "sources.tsv"), "w", encoding="utf-8") as f:
        f.write("corpus-id\tname\ttokens\tlong\tsource\tlicence\n")
        for it in corpus:
            tok = approx_tokens(it["title"] + " " + it["text"])
            it["tokens"] = tok
            f.write("%s\t%s\t%d\t%d\t%s\t%s\n" % (ids[it["id"]], it["id"], tok, tok > LONG_TOKENS, it["source"], it["licence"]))
    splits = {"test": [], "long": [], "short": []}
    with open(os.path.join(d, "queries.jsonl"), "w", encoding="utf-8") as f:
        for i, it in enumerate(qitems):
            qid = "q%04d" % i
            f.write(json.dumps({"_id": qid, "text": it["query"]}, ensure_ascii=False) + "\n")
            if it["split"] == "test":
                splits["test"].append((qid, ids[it["id"]]))
                if it["tokens"] <= LONG_TOKENS:
                    splits["short"].append((qid, ids[it["id"]]))
            if it["tokens"] > LONG_TOKENS:
                splits["long"].append((qid, ids[it["id"]]))
    for split, rows in splits.items():
        with open(os.path.join(d, "qrels", split + ".tsv"), "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, cid in rows:
                f.write("%s\t%s\t1\n" % (qid, cid))
    licences = Counter(it["licence"].split(" (")[0].split(": ", 1)[-1] for it in corpus)
    info = {
        "name": name, "description": desc, "seed": SEED, "documents": len(corpus), "queries": len(splits["test"]),
        "long_queries": len(splits["long"]), "long_tokens": LONG_TOKENS,
        "long_documents": sum(it["tokens"] > LONG_TOKENS for it in corpus),
        "mean_doc_tokens": round(sum(it["tokens"] for it in corpus) / max(1, len(corpus)), 1),
        "filtering": dict(sorted(stats.items())), "licences": dict(licences.most_common()),
        "corpus_sha256": hashlib.sha256(open(os.path.join(d, "corpus.jsonl"), "rb").read()).hexdigest(),
    }
    with open(os.path.join(d, "info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=".deps/evalsets", help="directory the sets are written under")
    ap.add_argument("--sets", default=",".join(SOURCES), help="comma-separated: " + ", ".join(SOURCES))
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for name in args.sets.split(","):
        if name not in SOURCES:
            sys.exit("build.py: unknown set %r (want one of %s)" % (name, ", ".join(SOURCES)))
        extract, desc = SOURCES[name]
        corpus, qitems, stats = assemble(extract(repo))
        info = write_set(args.out, name, desc, corpus, qitems, stats)
        print("%s: %d documents (%d long), %d queries (%d with a long document), mean %.0f tokens -> %s" % (
            name, info["documents"], info["long_documents"], info["queries"], info["long_queries"],
            info["mean_doc_tokens"], os.path.join(args.out, name)))


if __name__ == "__main__":
    main()
