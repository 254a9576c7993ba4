#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Derive DuoScope's built-in corpus `mix` from English text in six Debian packages.

Usage: derive_mix.py [--if-stale] OUT_DIR     (scripts/setup.sh: --if-stale <cache>/corpus)
  --if-stale   do nothing when OUT_DIR/mix.json was written by this script from the installed
               package versions and every file it lists has its recorded size

Domains and the document each is split by (docs/corpus.md has the licences and measured sizes):
  gcide     dict-gcide: a dictionary article (one dictd index block)
  manpages  manpages: a man page
  debref    debian-reference-en: a section (h1..h3) of the HTML book
  fortunes  fortunes-min + fortunes: a fortune (all files but ascii-art)
  jargon    jargon-text: a glossary entry, or a chapter / appendix of the front and back matter
  kjv       bible-kjv: a book; Genesis..Malachi calibration, Matthew..Revelation evaluation, as for
            the corpus `kjv` (derive_kjv.py), so that kjv:calib never meets mix evaluation text
Every other document goes to evaluation when SHA-256(SPLIT_SALT, domain, its text) falls in the
first EVAL_PER_MILLE of 1000, otherwise to calibration: a document lies whole in one split, and a
document repeated verbatim (the same fortune in two files) lands in one split.

Text: plain UTF-8 (NFC), one line a paragraph (man pages, dictionary articles, debian-reference,
jargon prose) or as printed (fortunes, code, tables), each line stripped with whitespace runs
collapsed; documents separated by one blank line. Roff is rendered by groff at a fixed width with
overstrike and SGR off, gcide's markup is resolved (headword forms, pronunciations, cross-reference
braces and source tags dropped; its ASCII diacritic codes mapped to Unicode), HTML tags stripped.
An evaluation line of at least MIN_DEDUP_BYTES bytes that also occurs in any calibration file is
dropped (the shorter ones are headings such as "DESCRIPTION" or "Syn:").

Writes into OUT_DIR:
  mix-<domain>-calib.txt, mix-<domain>-eval.txt   one domain's split (sources mix:calib:<domain>, ...)
  mix-calib.txt, mix-eval.txt   the mix: the same number of bytes from every domain (as many as the
                                smallest domain's split has), cut into chunks of whole lines of at
                                least CHUNK_BYTES, spread evenly over each domain's split and
                                interleaved by position, so any stretch of a few KiB holds every domain
  mix-without-<domain>-calib.txt  the calibration mix less one domain (source
                                mix:calib:without-<domain>): the other five domains' chunks of
                                mix-calib.txt in the same order, for calibrating with one kind of text
                                held out
  mix.json                      sizes and SHA-256 of every file, the packages' versions, the rule
Deterministic: sorted inputs, a fixed salt, LC_ALL=C.UTF-8 and a fixed width for groff. Nothing of
the text is committed to the repository.
"""
import concurrent.futures
import glob
import gzip
import hashlib
import html.parser
import json
import os
import re
import subprocess
import sys
import time
import unicodedata

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import derive_kjv  # noqa: E402  (the kjv parser: one verse a line, books in order)

DOMAINS = ("gcide", "manpages", "debref", "fortunes", "jargon", "kjv")
PACKAGES = {"gcide": ["dict-gcide"], "manpages": ["manpages"], "debref": ["debian-reference-en"],
            "fortunes": ["fortunes-min", "fortunes"], "jargon": ["jargon-text"], "kjv": ["bible-kjv"]}
SPLIT_SALT = "duoscope-mix-1"
EVAL_PER_MILLE = 200          # 20% of the documents (kjv: the New Testament)
CHUNK_BYTES = 1024            # the mix interleaves chunks of whole lines of at least this size
MIN_DEDUP_BYTES = 20          # eval lines this long that occur in a calibration file are dropped
MAN_WIDTH = 4000              # groff line length (n): one output line per filled paragraph
ENV = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
for _v in ("MANWIDTH", "GROFF_SGR", "GROFF_NO_SGR", "MAN_KEEP_FORMATTING"):
    ENV.pop(_v, None)


class Doc:
    """One document: the unit a split takes whole."""

    def __init__(self, ident, lines, split=None):
        self.ident = ident      # where it came from, for messages: "man7/signal.7.gz"
        self.lines = lines      # cleaned, non-empty
        self.split = split      # forced split (kjv), else decided by hash


# ---- text normalisation -----------------------------------------------------------------------

_OVERSTRIKE = re.compile(r".\x08")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u00ad\u200b\ufeff]")
_BOX = re.compile(r"[\u2500-\u257f]")   # table rules (tbl, the jargon's tables): cells stay, lines go


def clean(line):
    """One output line: overstrike, ANSI and control characters removed, NFC, whitespace collapsed."""
    line = _ANSI.sub("", line)
    while "\x08" in line:
        stripped = _OVERSTRIKE.sub("", line)
        if stripped == line:
            break
        line = stripped
    line = _BOX.sub(" ", _CONTROL.sub("", line))
    line = unicodedata.normalize("NFC", line)
    return " ".join(line.split())


def blocks(lines):
    """Runs of non-blank lines."""
    block = []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def joined(block):
    return clean(" ".join(block))


def cleaned_lines(lines):
    return [c for c in (clean(x) for x in lines) if c]


# ---- gcide ------------------------------------------------------------------------------------

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# gcide's ASCII codes for letters and marks: [=a] macron, ['e] acute, [a^] breve, ...
_MARKS = {"=": "\u0304", "-": "\u0304", "'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302",
          "~": "\u0303", ".": "\u0307", ",": "\u0327", "*": "\u030a"}
_NAMED = {"ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "eth": "ð", "thorn": "þ", "yogh": "ȝ", "deg": "°",
          "sect": "§", "pounds": "£", "root": "√", "aum": "ä", "imac": "ī", "ng": "ŋ", "=ae": "ǣ",
          "=oo": "o\u0304o", "oo^": "o\u0306o", "asl": "a", "add": "ä", "udd": "u", "bprime": "″",
          "prime": "′", "th": "th", "bar": "|", "sharp": "♯", "flat": "♭", "natural": "♮", "dsdot": "·",
          "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε",
          "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
          "nu": "ν", "xi": "ξ", "omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ",
          "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Omega": "Ω", "Sigma": "Σ",
          "Pi": "Π", "Phi": "Φ", "Gamma": "Γ", "Theta": "Θ", "Lambda": "Λ", "Psi": "Ψ", "Xi": "Ξ"}
_CODE = re.compile(r"\[([=\-'`\"^~.,*]?)([A-Za-z])(\^?)\]|\[([A-Za-z=^]{2,8})\]")
_HEADFORM = re.compile(r"\s*\\[^\\\n]*\\")                 # \Black"guard\  (syllabified headword)
_PRONUNCIATION = re.compile(r"^\s*\([^()\n]*[\"*`\[][^()\n]*\)")  # (bl[a^]g"g[aum]rd) after it
# Editors' source tags: "[1913 Webster]", "[WordNet 1.5 +PJC]", "[RDH]", and sense marks "ballot[2]";
# not usage labels ("[Obs.]", "[NL.]").
_SOURCE_TAG = re.compile(r"\s*\[(?:\d[\d.,]*|Webster|WordNet|Suppl\.|PJC\.?|Century|Dict\.,?|sense|\+|[A-Z]{2,3}(?![.\w])|\s)+\]")
# A pronunciation elsewhere: "(br[u^][th]"[~e]rz)", "(-kl?ng)"; and syllable marks in word forms
# ("Ar`thro*spor"ic").
_PRONUNCIATION_ANY = re.compile(r"\s*\((?:-[^()\n]*|[^()\n]*[A-Za-z\]][*\"`][A-Za-z\[][^()\n]*)\)")
_SYLLABLE = re.compile(r"(?<=[A-Za-z\]])[*\"`]+(?=[A-Za-z\[])")


def _b64(digits):
    """dictd's base-64 numbers (offsets and sizes in the .index)."""
    return sum(_B64[c] << (6 * i) for i, c in enumerate(reversed(digits)))


def _gcide_code(m):
    if m.group(4) is not None:
        return _NAMED.get(m.group(4), m.group(0))
    mark, letter, breve = m.group(1), m.group(2), m.group(3)
    if breve and not mark:
        return letter + "\u0306"
    if mark and not breve:
        return letter + _MARKS[mark]
    return m.group(0)   # "[A]", "[I]": bracketed text, kept


def gcide_text(block):
    """One article of the dictd file as plain paragraphs."""
    out = []
    for para in blocks(block.split("\n")):
        text = " ".join(x.strip() for x in para)
        pieces = []
        pos = 0
        for m in _HEADFORM.finditer(text):      # drop every \form\ and a pronunciation right after
            pieces.append(text[pos:m.start()])
            pos = m.end()
            p = _PRONUNCIATION.match(text, pos)
            if p:
                pos = p.end()
        pieces.append(text[pos:])
        text = "".join(pieces)
        text = _SYLLABLE.sub("", _PRONUNCIATION_ANY.sub("", text))
        text = _SOURCE_TAG.sub("", text)
        text = _CODE.sub(_gcide_code, text).replace("{", "").replace("}", "")
        text = clean(text)
        if text:
            out.append(text)
    return out


def docs_gcide():
    index = "/usr/share/dictd/gcide.index"
    with gzip.open("/usr/share/dictd/gcide.dict.dz") as f:   # dictzip is gzip with random access
        data = f.read()
    spans, about = set(), set()     # articles; the database's own notes ("00-database-info", ...)
    with open(index, encoding="utf-8") as f:
        for row in f:
            head, off, size = row.rstrip("\n").split("\t")[:3]
            span = (_b64(off), _b64(size))
            (about if head.startswith("00-") else spans).add(span)
    docs = []
    for off, size in sorted(spans - about):
        # The data is ASCII but for a few Windows-1252 bytes (0x92, a right quote).
        lines = gcide_text(data[off:off + size].decode("cp1252", errors="replace"))
        if lines:
            docs.append(Doc(f"gcide@{off}", lines))
    return docs


# ---- manpages ---------------------------------------------------------------------------------

def package_files(package):
    out = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True, env=ENV, check=True)
    return sorted(p for p in out.stdout.splitlines() if os.path.isfile(p) and not os.path.islink(p))


def render_man(path):
    with gzip.open(path) as f:
        src = f.read()
    for raw in src.splitlines():           # a page that only sources another one (.so) is an alias
        if raw.startswith(b".\\\"") or raw.startswith(b"'\\\"") or not raw.strip():
            continue
        if raw.startswith(b".so "):
            return None
        break
    out = subprocess.run(["groff", "-k", "-Kutf-8", "-t", "-Tutf8", "-man", f"-rLL={MAN_WIDTH}n", "-rcR=1",
                          "-P-c", "-P-b", "-P-u", "-P-o"],
                         input=src, capture_output=True, env=ENV, check=True)
    lines = cleaned_lines(out.stdout.decode("utf-8", errors="replace").splitlines())
    return lines[1:-1]                     # the page header and footer


def docs_manpages():
    pages = [p for p in package_files("manpages") if re.search(r"/usr/share/man/man\d/[^/]+\.gz$", p)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        rendered = list(pool.map(render_man, pages))
    return [Doc(os.path.relpath(p, "/usr/share/man"), lines) for p, lines in zip(pages, rendered) if lines]


# ---- debian-reference -------------------------------------------------------------------------

class _HtmlText(html.parser.HTMLParser):
    """Text of a DocBook XHTML chapter, one document per h1..h3 section; navigation, tables of
    contents, footnotes, images and footnote marks left out; <pre> keeps its lines."""
    SKIP_CLASSES = {"navheader", "navfooter", "toc", "footnotes", "list-of-tables"}
    BLOCKS = {"p", "div", "li", "dt", "dd", "tr", "pre", "table", "br", "h1", "h2", "h3", "h4", "h5",
              "h6", "ul", "ol", "dl", "blockquote", "hr", "caption", "th"}
    VOID = {"br", "img", "hr", "col", "meta", "link", "input", "area", "base", "wbr"}

    def __init__(self, name):
        super().__init__(convert_charrefs=True)
        self.name = name
        self.stack = []          # (tag, skipped)
        self.docs = []           # (ident, [lines])
        self.line = []
        self.pre = 0
        self.pending_id = None
        self._start_doc(name)

    def _skipping(self):
        return bool(self.stack) and self.stack[-1][1]

    def _start_doc(self, ident):
        self.flush()
        self.docs.append((ident, []))

    def flush(self):
        if self.line:
            text = "".join(self.line)
            self.line = []
            if self.docs:
                self.docs[-1][1].extend(text.split("\n") if self.pre else [text])

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        skipped = self._skipping() or tag in ("head", "script", "style", "sup", "img") or \
            bool(self.SKIP_CLASSES & set((a.get("class") or "").split()))
        if tag in self.BLOCKS and not self._skipping():
            self.flush()
        if tag in ("h1", "h2", "h3") and not skipped:
            self._start_doc(self.name)       # renamed by the <a id> inside the heading
            self.pending_id = True
        if tag == "a" and self.pending_id and a.get("id"):
            self.docs[-1] = (f"{self.name}#{a['id']}", self.docs[-1][1])
            self.pending_id = None
        if tag == "pre" and not skipped:
            self.pre += 1
        if tag in ("td", "th") and not skipped:
            self.line.append(" ")
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:                     # XHTML: well nested, but be lenient
            t, skipped = self.stack.pop()
            if t == tag:
                break
        if tag in self.BLOCKS and not self._skipping():
            self.flush()
        if tag == "pre" and self.pre and not self._skipping():
            self.pre -= 1
        if tag in ("h1", "h2", "h3"):
            self.pending_id = None

    def handle_data(self, data):
        if self._skipping():
            return
        self.line.append(data if self.pre else " ".join(data.split("\n")))


def docs_debref():
    order = {"pr": 0, "ch": 1, "ap": 2}
    files = [p for p in glob.glob("/usr/share/debian-reference/*.en.html") if os.path.basename(p)[:2] in order]
    files.sort(key=lambda p: (order[os.path.basename(p)[:2]], os.path.basename(p)))
    docs = []
    for path in files:
        parser = _HtmlText(os.path.basename(path))
        with open(path, encoding="utf-8") as f:
            parser.feed(f.read())
        parser.close()
        parser.flush()
        for ident, lines in parser.docs:
            lines = cleaned_lines(lines)
            if lines:
                docs.append(Doc(ident, lines))
    return docs


# ---- fortunes ---------------------------------------------------------------------------------

def docs_fortunes():
    files = []
    for pkg in PACKAGES["fortunes"]:
        files += [p for p in package_files(pkg)
                  if re.search(r"/usr/share/games/fortunes/[^/.]+$", p) and not p.endswith("/ascii-art")]
    docs = []
    for path in sorted(set(files)):
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        for i, fortune in enumerate(re.split(r"(?m)^%\s*$", text)):
            lines = cleaned_lines(fortune.split("\n"))
            if lines:
                docs.append(Doc(f"{os.path.basename(path)}#{i}", lines))
    return docs


# ---- jargon -----------------------------------------------------------------------------------

_ENTRY = re.compile(r"^   :[^:]+:")
_LETTER = re.compile(r"^  [0-9A-Z]\s*$")
_MATTER = re.compile(r"^(Chapter \d+\.|Appendix [A-Z]\.|Bibliography$|Glossary$)")


def jargon_lines(block_lines):
    """Prose (every line indented by exactly three spaces) becomes one line; other blocks (code,
    pictures, quoted mail) keep their lines. An entry's head ":hack value: n." loses its colons and
    an empty pronunciation "//"; cross-reference braces "{crash}" go."""
    out = []
    for block in blocks(block_lines):
        if all(re.match(r"^   \S", x) for x in block):
            out.append(joined(block))
        else:
            out += cleaned_lines(block)
    if out and out[0].startswith(":"):
        out[0] = re.sub(r"^:(.+?):( //)?", r"\1", out[0])
    return [y for y in (re.sub(r"\{([^{}]*)\}", r"\1", x) for x in out) if y]


def docs_jargon():
    with gzip.open("/usr/share/doc/jargon-text/jargon.txt.gz") as f:
        lines = f.read().decode("utf-8").splitlines()
    docs, cur, ident, keep = [], [], None, False

    def close():
        if keep and ident is not None:
            text = jargon_lines(cur)
            if text:
                docs.append(Doc(ident, text))

    for line in lines:
        m = _MATTER.match(line)
        if m:                                   # chapter / appendix; the glossary heading ends one
            close()
            cur, ident, keep = [line], line.strip(), line.strip() != "Glossary"
            continue
        if _ENTRY.match(line):
            close()
            cur, ident, keep = [line], line.strip(), True
            continue
        if _LETTER.match(line):                 # a letter's heading and its list of entry names
            close()
            cur, ident, keep = [], None, False
            continue
        cur.append(line)
    close()
    return docs


# ---- kjv --------------------------------------------------------------------------------------

def docs_kjv():
    out = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True, env=ENV, check=True)
    docs = []
    for book, verses, split in derive_kjv.books(out.stdout.splitlines()):
        docs.append(Doc(book, verses, split))
    return docs


# ---- splitting and the mix --------------------------------------------------------------------

def split_of(domain, doc):
    if doc.split is not None:
        return doc.split
    h = hashlib.sha256("\n".join([SPLIT_SALT, domain] + doc.lines).encode("utf-8")).digest()
    return "eval" if int.from_bytes(h[:8], "big") % 1000 < EVAL_PER_MILLE else "calib"


def chunks(lines):
    """Whole lines grouped into chunks of at least CHUNK_BYTES (the last may be shorter)."""
    out, cur, size = [], [], 0
    for line in lines:
        cur.append(line)
        size += len(line.encode("utf-8")) + 1
        if size >= CHUNK_BYTES:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


def mix(domain_lines, budget, without=None):
    """`budget` bytes from every domain (but `without`), chunks spread evenly over each, interleaved
    by position."""
    placed = []    # (position in [0, 1), domain index, chunk lines)
    for di, d in enumerate(DOMAINS):
        if d == without:
            continue
        cs = chunks(domain_lines[d])
        sizes = [sum(len(x.encode("utf-8")) + 1 for x in c) for c in cs]
        total = sum(sizes)
        taken, seen = 0, 0
        sel = []
        for c, s in zip(cs, sizes):
            seen += s
            if taken < budget * seen / total:   # take while the selection lags the even share
                sel.append((taken, c))
                taken += s
        for start, c in sel:
            placed.append((start / taken, di, c))
    placed.sort(key=lambda t: (t[0], t[1]))
    return "\n\n".join("\n".join(c) for _, _, c in placed) + "\n"


def text_of(docs):
    return "\n\n".join("\n".join(d.lines) for d in docs) + "\n"


def write(out_dir, name, text, files):
    data = text.encode("utf-8")
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    files[name] = {"bytes": len(data), "lines": text.count("\n"), "sha256": hashlib.sha256(data).hexdigest()}


def package_versions():
    names = [p for d in DOMAINS for p in PACKAGES[d]] + ["groff-base"]
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\n"] + names,
                         capture_output=True, text=True, env=ENV)
    versions = dict(sorted(x.split("\t") for x in out.stdout.splitlines() if "\t" in x))
    missing = [n for n in names if not versions.get(n)]
    if missing:
        raise SystemExit("derive_mix: Debian packages missing: " + " ".join(missing) +
                         " (scripts/setup.sh installs them)")
    return versions


def script_sha256():
    """Of this script and the kjv parser it uses: a changed rule re-derives the corpus."""
    h = hashlib.sha256()
    for name in ("derive_mix.py", "derive_kjv.py"):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def up_to_date(out_dir, versions):
    """True when out_dir holds a mix derived by this script from these package versions, every
    file with its recorded size."""
    try:
        with open(os.path.join(out_dir, "mix.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("packages") != versions or manifest.get("script_sha256") != script_sha256():
        return False
    files = manifest.get("files", {})
    return len(files) == 2 + 2 * len(DOMAINS) and all(
        os.path.isfile(os.path.join(out_dir, n)) and os.path.getsize(os.path.join(out_dir, n)) == e["bytes"]
        for n, e in files.items())


def main():
    args = sys.argv[1:]
    if_stale = "--if-stale" in args
    args = [a for a in args if a != "--if-stale"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = args[0]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.monotonic()
    versions = package_versions()
    if if_stale and up_to_date(out_dir, versions):
        return 0
    print(f"derive_mix: deriving the mix corpus into {out_dir}", file=sys.stderr)
    readers = {"gcide": docs_gcide, "manpages": docs_manpages, "debref": docs_debref,
               "fortunes": docs_fortunes, "jargon": docs_jargon, "kjv": docs_kjv}
    splits = {}    # domain -> {"calib": [Doc], "eval": [Doc]}
    for d in DOMAINS:
        docs = readers[d]()
        if len(docs) < 50:
            print(f"derive_mix: domain {d} has only {len(docs)} documents; is {' '.join(PACKAGES[d])} installed?",
                  file=sys.stderr)
            return 1
        splits[d] = {"calib": [], "eval": []}
        for doc in docs:
            splits[d][split_of(d, doc)].append(doc)

    # Evaluation lines that calibration text also has (any domain) are dropped.
    calib_lines = {x for d in DOMAINS for doc in splits[d]["calib"] for x in doc.lines
                   if len(x.encode("utf-8")) >= MIN_DEDUP_BYTES}
    dropped = {}
    for d in DOMAINS:
        kept, n = [], 0
        for doc in splits[d]["eval"]:
            lines = [x for x in doc.lines if len(x.encode("utf-8")) < MIN_DEDUP_BYTES or x not in calib_lines]
            n += len(doc.lines) - len(lines)
            if lines:
                kept.append(Doc(doc.ident, lines, doc.split))
        splits[d]["eval"] = kept
        dropped[d] = n

    files, domains = {}, {}
    texts = {s: {} for s in ("calib", "eval")}
    for d in DOMAINS:
        for s in ("calib", "eval"):
            text = text_of(splits[d][s])
            texts[s][d] = text.splitlines()
            write(out_dir, f"mix-{d}-{s}.txt", text, files)
        domains[d] = {"packages": PACKAGES[d],
                      "documents": {s: len(splits[d][s]) for s in ("calib", "eval")},
                      "eval_lines_dropped_as_in_calib": dropped[d]}
    budgets = {}
    for s in ("calib", "eval"):
        budgets[s] = min(files[f"mix-{d}-{s}.txt"]["bytes"] for d in DOMAINS)
        write(out_dir, f"mix-{s}.txt", mix(texts[s], budgets[s]), files)
    for d in DOMAINS:
        write(out_dir, f"mix-without-{d}-calib.txt", mix(texts["calib"], budgets["calib"], without=d), files)

    manifest = {
        "source": "scripts/derive_mix.py from the Debian packages below",
        "packages": versions,
        "python": ".".join(map(str, sys.version_info[:3])),
        "script_sha256": script_sha256(),
        "rule": {"split_salt": SPLIT_SALT, "eval_per_mille": EVAL_PER_MILLE,
                 "kjv": "Genesis..Malachi calib, Matthew..Revelation eval",
                 "chunk_bytes": CHUNK_BYTES, "min_dedup_bytes": MIN_DEDUP_BYTES, "man_width": MAN_WIDTH,
                 "mix": "equal bytes per domain (the smallest domain's split), chunks interleaved by position",
                 "mix_without": "mix-calib.txt's chunks of every domain but one, in its order"},
        "domains": domains,
        "mix_bytes_per_domain": budgets,
        "files": files,
    }
    tmp = os.path.join(out_dir, "mix.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "mix.json"))
    print(f"derive_mix: {len(files)} files in {out_dir} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
