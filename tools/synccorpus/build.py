#!/usr/bin/env python3
"""Build a large corpus of real documentation text found on this machine, for
the sync benchmark (tools/bench/syncbench; BENCHMARKS.md, "Keeping a
collection in sync").

Sources, in this order (each read in sorted order, so the output depends only
on what is installed):

  go      doc comments of every documented package, function, type and method
          of GOROOT/src and of the Go module cache (read with go/doc by
          tools/evalsets/goextract): the declaration, then the comment;
  python  docstrings of every public module, class, function and method of
          the Python standard library and of the site-packages given (read
          with ast, nothing imported): the signature, then the docstring;
  man     English man pages (sections 1-8, no translations), NAME line and
          DESCRIPTION section, as plain text (tools/evalsets' roff reader).

Bodies under 20 words, bodies identical after normalisation to an earlier
one (the same comment in two versions of a module), and documents holding a
NUL byte (which spladeq dead-letters) are dropped. Documents
are taken round-robin from the three sources until --docs are written, so the
mix does not depend on --docs. JSON lines: {"id", "title", "text", "source"}.
Python standard library only, beside `go` for goextract.

    python3 tools/synccorpus/build.py --out .deps/synccorpus/corpus.jsonl --docs 50000
"""

import argparse
import ast
import hashlib
import json
import os
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools", "evalsets"))
import build as evalsets  # noqa: E402  (roff reader, text helpers)

MIN_WORDS = 20
MAX_WORDS = 1200
PY_SKIP = {"test", "tests", "__pycache__", "idlelib", "lib2to3", "turtledemo", "pydoc_data", "encodings"}


def go_docs():
    goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    for root, prefix in ((os.path.join(goroot, "src"), "go:"), (modcache, "gomod:")):
        if not os.path.isdir(root):
            continue
        proc = subprocess.Popen(["go", "run", "./tools/evalsets/goextract", "-src", root], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            r = json.loads(line)
            decl = "\n".join(r["decl"].splitlines()[:12])
            text = (decl + "\n\n" + r["doc"]).strip() if decl else r["doc"].strip()
            yield dict(id=prefix + r["id"], title=r["id"], text=text, source=r["file"])
        proc.wait()


def py_docs(roots):
    for root in roots:
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in PY_SKIP and not d.startswith((".", "_")))
            files += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py") and (not f.startswith("_") or f == "__init__.py")]
        for path in sorted(files):
            rel = os.path.relpath(path, root)
            mod = rel[:-3].replace(os.sep, ".")
            if mod.endswith(".__init__"):
                mod = mod[: -len(".__init__")]
            try:
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read(), path)
            except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
                continue
            stack = [(tree, [])]
            while stack:
                node, qual = stack.pop(0)
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    sig = ""
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        sig = "def %s(%s)" % (node.name, ast.unparse(node.args))
                    elif isinstance(node, ast.ClassDef):
                        sig = "class %s(%s)" % (node.name, ", ".join(ast.unparse(b) for b in node.bases))
                    name = ".".join([mod] + qual)
                    yield dict(id="py:" + name, title=name, text=(sig + "\n\n" + doc).strip(), source=path)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and qual:
                    continue  # nested helpers
                for child in getattr(node, "body", []):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not child.name.startswith("_"):
                        stack.append((child, qual + [child.name]))


def man_docs():
    base = "/usr/share/man"
    pages = []
    for sec in ("man1", "man2", "man3", "man4", "man5", "man6", "man7", "man8"):
        d = os.path.join(base, sec)
        if os.path.isdir(d):
            pages += [os.path.join(d, f) for f in os.listdir(d)]
    for path in sorted(pages):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        src = evalsets.read_man_page(path)
        if src is None:
            continue
        secs = evalsets.roff_sections(src)
        name = " ".join(secs.get("NAME", []))
        desc = secs.get("DESCRIPTION") or secs.get("OVERVIEW")
        if not name or not desc:
            continue
        fname = os.path.basename(path)
        fname = fname[:-3] if fname.endswith(".gz") else fname
        yield dict(id="man:" + fname, title=evalsets.fold(name), text=evalsets.fold(name) + "\n\n" + "\n\n".join(desc), source=path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=".deps/synccorpus/corpus.jsonl")
    ap.add_argument("--docs", type=int, default=50000, help="documents to write (fewer when the machine has fewer)")
    ap.add_argument("--site-packages", action="append", default=[],
                    help="more Python trees to read (default: this python's purelib and the repository's .deps/venv)")
    args = ap.parse_args()
    roots = [sysconfig.get_paths()["stdlib"]] + (args.site_packages or [sysconfig.get_paths()["purelib"]] + sorted(
        os.path.join(dp, d) for dp, dns, _ in os.walk(os.path.join(REPO, ".deps", "venv", "lib")) for d in dns if d == "site-packages"))
    sources = {"go": go_docs(), "python": py_docs([r for r in roots if os.path.isdir(r)]), "man": man_docs()}
    seen_ids, seen_bodies = set(), set()
    counts = {k: 0 for k in sources}
    dropped = {"short": 0, "duplicate": 0, "nul": 0}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    h = hashlib.sha256()
    written = 0
    with open(args.out + ".tmp", "w", encoding="utf-8") as out:
        live = list(sources)
        while live and written < args.docs:
            for name in list(live):
                if written >= args.docs:
                    break
                doc = None
                for doc in sources[name]:
                    words = evalsets.words(doc["text"])
                    if len(words) < MIN_WORDS:
                        dropped["short"] += 1
                        continue
                    if any("\x00" in v for v in doc.values() if isinstance(v, str)):
                        # spladeq refuses text with a NUL byte (a bad
                        # record): every document here must be ingestible.
                        dropped["nul"] += 1
                        continue
                    key = hashlib.sha1(evalsets.norm(doc["text"]).encode()).digest()
                    if key in seen_bodies or doc["id"] in seen_ids:
                        dropped["duplicate"] += 1
                        continue
                    seen_bodies.add(key)
                    seen_ids.add(doc["id"])
                    doc["text"] = evalsets.cut_words(doc["text"], MAX_WORDS)
                    line = json.dumps(doc, ensure_ascii=False) + "\n"
                    out.write(line)
                    h.update(line.encode())
                    counts[name] += 1
                    written += 1
                    break
                else:
                    live.remove(name)
    os.replace(args.out + ".tmp", args.out)
    info = dict(documents=written, by_source=counts, dropped=dropped, sha256=h.hexdigest())
    with open(os.path.splitext(args.out)[0] + ".info.json", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("%d documents (%s) -> %s" % (written, ", ".join("%s %d" % kv for kv in counts.items()), args.out))


if __name__ == "__main__":
    main()
