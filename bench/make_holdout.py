"""Build held-out domains of the development suite: real FAQs from Debian packages that no
constant is tuned on, to check that the suite's figures hold on FAQs the answerer never saw.

    python bench/make_holdout.py [--out bench/data/suite] [--domains python-faq perl-faq zsh-faq]
    python bench/run_suite.py --domains python-faq perl-faq zsh-faq --workdir /tmp/holdout-work

The layout is bench/make_suite.py's (its `write_domain`): OUT/<domain>/corpus/ with one file
per FAQ entry (its answer without the heading, verbatim in the FAQ's own markup) and
distractor files cut from the same package's manuals, the BEIR files, and qa-dev.jsonl /
qa-test.jsonl split in halves with the suite's fixed seed. The domains:

- python-faq: the Python FAQ of `python3.11-doc`, reStructuredText (`_sources/faq/*.rst.txt`),
  questions = section titles; distractors = sections of the library, tutorial, HOWTO and
  reference sources and the FAQ's sections that ask nothing;
- perl-faq: perlfaq1..9 of `perl-doc`, POD, questions = `=head2` items; distractors = sections
  of the other pods (perlfunc, perlop, perlre, ...), cut at =head1/=head2;
- zsh-faq: the Z-shell FAQ of `zsh-common`, hard-wrapped plain text (a Usenet FAQ), questions
  = `N.M: Title?` headings; distractors = nodes of the zsh manual (`zsh-doc`, GNU Info) and the
  FAQ's sections that ask nothing.

Every file is written as .txt (reST and POD are hard-wrapped plain text to the loader). Only
headings that ask (a "?", or worded as a question) are questions; answers under 40 characters
(web addresses not counted) are skipped, and a question asked twice keeps its first answer. Each
domain gets 10 off-topic questions of its own from OFF_TOPIC_HOLDOUT (make_suite.py's fifty
are all taken). These domains are held out: report them, never tune on either half."""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_suite import OFF_TOPIC, REPO, SEED, Domain, Entry, _budget, _info_nodes, _text, fetch, write_domain

MIN_ANSWER = 40  # characters without web addresses: a shorter answer ("Yes.", "See L<CPAN|URL>")
# gives retrieval nothing to find
PIECE_CHARS = 20_000  # a distractor longer than this is cut further, so that one page (perlfunc's
# listing of every function is ~400 K) cannot fill the whole budget of _budget alone


def _answers(body: str) -> bool:
    """Whether a body says something: MIN_ANSWER characters once web addresses are taken out."""
    return len(re.sub(r"https?://[^\s>|`]+", "", body).strip()) >= MIN_ANSWER


_INTERROGATIVE = re.compile(r"(how|what|why|when|where|which|who|is|are|can|do|does|should|will)\b", re.I)


def _asks(heading: str) -> bool:
    """A heading that asks a question: it has a question mark ("How do I ...?", "... longjmp()?
    (Exception handling)") or starts as a question does ("How do you remove multiple items from a
    list", the one such heading of the three FAQs)."""
    return "?" in heading or bool(_INTERROGATIVE.match(heading))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def _cut(pieces: list[tuple[str, str]], boundary: re.Pattern[str]) -> list[tuple[str, str]]:
    """Pieces longer than PIECE_CHARS cut at `boundary` lines into runs of up to PIECE_CHARS."""
    out = []
    for name, text in pieces:
        if len(text) <= PIECE_CHARS:
            out.append((name, text))
            continue
        starts = [0, *(m.start() for m in boundary.finditer(text) if m.start()), len(text)]
        run_start, part = 0, 0
        for a, b in itertools.pairwise(starts):
            if b - run_start > PIECE_CHARS and a > run_start:
                out.append((f"{name.removesuffix('.txt')}-{part:02d}.txt", text[run_start:a]))
                run_start, part = a, part + 1
        out.append((f"{name.removesuffix('.txt')}-{part:02d}.txt", text[run_start:]))
    return out


# -- python-faq: reStructuredText, questions are section titles --------------------------------
_RST_ADORNMENT = re.compile(r"""^([!-/:-@\[-`{-~])\1{2,}$""")  # a line of one punctuation character
# `.. _target:` labels and `.. index::` entries at the end of a section belong to the next title
_RST_LABEL = re.compile(r"(?:\n\.\. (?:_[^\n]*:|index::[^\n]*(?:\n[ \t]+\S[^\n]*)*)[ \t]*\n*)+\s*$")


def _rst_sections(text: str) -> list[tuple[int, str, int, int]]:
    """(level, title, heading start, body start) of each section of a reST document; the level is
    the order in which the document first uses the title's adornment (underline, with or without
    an overline), as docutils assigns it."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    styles: list[tuple[str, bool]] = []
    out = []
    i = 1
    while i < len(lines):
        title, under = lines[i - 1].rstrip("\n"), lines[i].rstrip("\n")
        over = i >= 2 and lines[i - 2].rstrip("\n") == under
        if (_RST_ADORNMENT.match(under) and title.strip() and not _RST_ADORNMENT.match(title.strip())
                and len(under) >= len(title.strip())
                and (over or not title[0].isspace())):  # an indented title needs an overline
            style = (under[0], over)
            if style not in styles:
                styles.append(style)
            head = offsets[i - 2 if over else i - 1]
            out.append((styles.index(style), title.strip(), head, offsets[i + 1]))
            i += 2
            continue
        i += 1
    return out


def _rst_plain(title: str) -> str:
    """A title as the rendered page shows it: ``literal``, :role:`text` and *emphasis* unmarked."""
    parts = re.split(r"``(.+?)``", title)  # odd parts are literals, shown as they are
    for n in range(0, len(parts), 2):
        part = re.sub(r":[a-z:]+:`~?([^`<]*?)\s*(?:<[^`>]*>)?`", r"\1", parts[n])  # :ref:`text <target>`
        parts[n] = re.sub(r"\*\*?(\S(?:[^*]*\S)?)\*\*?", r"\1", part).replace("\\", "")
    return "".join(parts)


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """[s, e) without the blank lines before it and the white space after it."""
    while (nl := text.find("\n", s, e)) >= 0 and not text[s:nl].strip():
        s = nl + 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _unique(entries: list[Entry]) -> list[Entry]:
    """The first entry of each question: a question asked twice ("What is Python?" in two FAQs)
    would have two right answers, and the qrels know one."""
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.question.lower() not in seen:
            seen.add(e.question.lower())
            out.append(e)
    return out


def _rst_span(text: str, s: int, e: int) -> tuple[int, int]:
    """[s, e) trimmed, without the labels and index entries that belong to what follows."""
    label = _RST_LABEL.search(text, s, e)
    return _trim(text, s, label.start() if label else e)


def _rst_pieces(rel: str, text: str) -> list[tuple[str, str]]:
    """Each section of a reST file with its heading, down to the next title of any level."""
    sections = _rst_sections(text)
    bounds = [h for _, _, h, _ in sections[1:]] + [len(text)]
    stem = _slug(rel.removesuffix(".rst.txt"))
    return [(f"{stem}-{n:03d}.txt", text[h:b].strip("\n") + "\n")
            for n, ((_, _, h, _), b) in enumerate(zip(sections, bounds, strict=True))]


def python_faq() -> Domain:
    sources = fetch("python3.11-doc") / "usr/share/doc/python3.11/html/_sources"
    entries, pieces = [], []
    for path in sorted((sources / "faq").glob("*.rst.txt")):
        if path.name == "index.rst.txt":  # the table of contents: every question, no answer
            continue
        text = path.read_text(encoding="utf-8")
        sections = _rst_sections(text)
        for n, (level, title, head, body) in enumerate(sections):
            end = next((h for lv, _, h, _ in sections[n + 1:] if lv <= level), len(text))
            own_end = sections[n + 1][2] if n + 1 < len(sections) else len(text)
            s, e = _rst_span(text, body, end)
            # a question: a title that asks, not the page's, with no question under it
            nested = any(_asks(t) for _, t, h, _ in sections[n + 1:] if h < end)
            if level and _asks(title) and not nested:
                if _answers(text[s:e]):
                    name = f"pyfaq-{path.name.removesuffix('.rst.txt')}-{n:03d}.txt"
                    answer = text[s:e] + "\n"
                    entries.append(Entry(_rst_plain(title), name, answer, f"faq/{path.name}", s, e))
            else:
                pieces.append((f"faq-{path.name.removesuffix('.rst.txt')}-{n:03d}.txt",
                               text[head:own_end].strip("\n") + "\n"))
    for folder in ("library", "tutorial", "howto", "reference"):
        for path in sorted((sources / folder).rglob("*.rst.txt")):
            rel = str(path.relative_to(sources))
            pieces += _rst_pieces(rel, path.read_text(encoding="utf-8"))
    return Domain("python-faq", _unique(entries), _budget(_cut(pieces, re.compile(r"^\.\. ", re.M))))


# -- perl-faq: POD, questions are =head2 items -------------------------------------------------
_POD_HEAD = re.compile(r"^=head([12]) +([^\n]*)\n", re.M)
_POD_CODE = re.compile(r"([A-Z])<<+ (.*?) >>+|([A-Z])<([^<>]*)>")  # C<...>, L<text|target>, C<< ... >>
_POD_ESCAPES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}  # E<...>


def _pod_plain(heading: str) -> str:
    """A POD heading as perldoc shows it: formatting codes replaced by their text."""

    def text(m: re.Match[str]) -> str:
        code, inner = m.group(1) or m.group(3), m.group(2) or m.group(4) or ""
        if code == "E":
            return _POD_ESCAPES.get(inner, "?")
        return "" if code in "XZ" else inner.split("|")[0]

    while _POD_CODE.search(heading):
        heading = _POD_CODE.sub(text, heading)
    return heading


def _pod_sections(text: str) -> list[tuple[str, int, int, int]]:
    """(heading, heading start, body start, body end) of each =head1/=head2 section."""
    heads = list(_POD_HEAD.finditer(text))
    stop = text.find("\n=cut", heads[-1].end()) + 1 if heads else 0  # 0: no =cut after the last
    ends = [h.start() for h in heads[1:]] + [stop or len(text)]
    return [(h.group(2).strip(), h.start(), h.end(), end) for h, end in zip(heads, ends, strict=True)]


def perl_faq() -> Domain:
    pods = fetch("perl-doc") / "usr/share/perl/5.36.0/pod"
    entries, pieces = [], []
    for path in sorted(pods.glob("perlfaq[1-9].pod")):
        text = path.read_text(encoding="utf-8")
        for n, (heading, head, body, end) in enumerate(_pod_sections(text)):
            s, e = _trim(text, body, end)
            if text.startswith("=head2", head) and _asks(heading):
                if _answers(text[s:e]):
                    entries.append(Entry(_pod_plain(heading), f"{path.stem}-{n:03d}.txt", text[s:e] + "\n",
                                         path.name, s, e))
            else:
                pieces.append((f"{path.stem}-{n:03d}.txt", text[head:end].strip("\n") + "\n"))
    # the other manuals; not the tables of contents (perltoc, perlfaq: every FAQ question), the
    # change logs (perl*delta) nor the per-platform notes, which share no subject with the FAQ
    skip = re.compile(r"perlfaq|perltoc|delta|perl(aix|amiga|android|bs2000|cn|cygwin|freebsd|haiku|hpux|"
                      r"hurd|irix|jp|ko|linux|macosx|openbsd|os2|os390|os400|plan9|qnx|riscos|solaris|"
                      r"synology|tru64|tw|vms|vos|win32)\.pod$")
    for path in sorted(pods.glob("*.pod")):
        if skip.search(path.name):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        pieces += [(f"{path.stem}-{n:03d}.txt", text[head:e].strip("\n") + "\n")
                   for n, (_, head, _, e) in enumerate(_pod_sections(text))]
    items = re.compile(r"^=(?:item|head3|head4) ", re.M)
    return Domain("perl-faq", _unique(entries), _budget(_cut(pieces, items)))


# -- zsh-faq: hard-wrapped plain text, `N.M: Title?` headings -----------------------------------
_ZSH_HEADING = re.compile(r"^(?:Chapter (\d+): |(\d+\.\d+): )?(\S[^\n]*)\n", re.M)


def zsh_faq() -> Domain:
    path = fetch("zsh-common") / "usr/share/doc/zsh-common/FAQ.gz"
    text = _text(path)
    begin = text.index("--- End of Contents ---")
    heads = [m for m in _ZSH_HEADING.finditer(text, begin)
             if (m.group(1) or m.group(2) or m.group(3) in ("Acknowledgments:", "Copyright Information:"))]
    entries, pieces = [], []
    for m, following in zip(heads, [*heads[1:], None], strict=True):
        s, e = _trim(text, m.end(), following.start() if following else len(text))
        number, heading = m.group(2), m.group(3).strip()
        if number and _asks(heading):
            if _answers(text[s:e]):
                entries.append(Entry(heading, f"zshfaq-{number}.txt", text[s:e] + "\n", path.name, s, e))
        elif not _asks(heading):
            label = number or (m.group(1) and f"chapter-{m.group(1)}") or _slug(heading).lower()
            pieces.append((f"zshfaq-{label}.txt", f"{text[m.start():m.end()]}\n{text[s:e]}\n"))
    for info in sorted((fetch("zsh-doc") / "usr/share/info").glob("zsh.info-*.gz")):
        manual = _text(info)
        for heading, s, e in _info_nodes(manual):
            if heading.endswith("Index"):  # lists of index entries, not prose
                continue
            pieces.append((f"zsh-{_slug(heading)}.txt", f"{heading}\n\n{manual[s:e].strip(chr(10))}\n"))
    return Domain("zsh-faq", _unique(entries), _budget(_cut(pieces, re.compile(r"^\S", re.M))))


# -- off-topic questions: make_suite.py's fifty are all taken by its five domains ---------------
OFF_TOPIC_HOLDOUT = [
    "What is the smallest country in the world?", "How do hummingbirds hover?",
    "Who discovered penicillin?", "How many strings does a standard guitar have?",
    "What is the best way to store fresh basil?", "Why do cats purr?",
    "Which city hosted the 1992 Summer Olympics?", "How deep is the Mariana Trench?",
    "What is the difference between a crocodile and an alligator?", "How do I descale a kettle?",
    "Who invented the telephone?", "What is the main language spoken in Quebec?",
    "How long should I boil an egg for a runny yolk?", "What is the largest desert in the world?",
    "How many time zones does Russia have?", "What makes a rainbow appear?",
    "Who wrote One Hundred Years of Solitude?", "How often should I replace my running shoes?",
    "What is the highest waterfall in the world?", "How do bats find their way in the dark?",
    "What is the official currency of Japan?", "How do I get chewing gum out of hair?",
    "Which element has the atomic number 1?", "When was the Eiffel Tower built?",
    "How many keys does a standard piano have?", "What is the difference between a frog and a toad?",
    "How do I keep cut flowers fresh longer?", "Who was the first woman to win a Nobel Prize?",
    "What is the average lifespan of a domestic cat?", "How do tides work?",
]
assert not set(OFF_TOPIC_HOLDOUT) & set(OFF_TOPIC)

BUILDERS = {"python-faq": python_faq, "perl-faq": perl_faq, "zsh-faq": zsh_faq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "suite")
    parser.add_argument("--domains", nargs="*", default=list(BUILDERS), choices=list(BUILDERS))
    args = parser.parse_args()
    off = list(OFF_TOPIC_HOLDOUT)
    random.Random(SEED).shuffle(off)
    for name in args.domains:
        n = list(BUILDERS).index(name)  # by the builder's place, not the command line's: fixed sets
        info = write_domain(args.out, BUILDERS[name](), off[10 * n : 10 * n + 10])
        print(f"{name}: {info}")


if __name__ == "__main__":
    main()
