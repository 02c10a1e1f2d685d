"""A reproducible synthetic vault that looks like a real one, for benchmarking kb.

    python -m bench.gen --notes 6000 --seed 1 /tmp/vault-6k

The same ``--notes`` and ``--seed`` always give byte-identical files (one
``random.Random(seed)`` stream, no set or hash ordering). What the notes hold:

- **Prose** built from the ML/CS vocabulary of :mod:`bench.words`: English sentences,
  Chinese sentences and sentences that mix both (``用 attention 计算梯度，the encoder is
  stable。``). :data:`JARGON_SHARE` of the noun slots get a term, drawn with Zipf weights
  (:data:`TERM_ZIPF`, :data:`TERM_SHIFT`), so a few words are in most notes and most words
  in few, as in real notes; the other slots get plain words (model, 数据…).
- **Size**: lognormal (:data:`SIZE_MEDIAN` bytes, :data:`SIZE_SIGMA`), from a few lines to
  :data:`SIZE_MAX` bytes; 6,000 notes come to about 15 MB.
- **Front matter** on :data:`FRONTMATTER_SHARE` of the notes: ``aliases`` (the other
  language's name), ``tags`` as a flow list, a block list or a space-separated string.
- **Structure**: nested ``##``-``####`` headings, ``- **Term**: explanation`` lists, plain
  and numbered lists, quotes, fenced code, ``$$`` math and inline ``$math$``.
- **Links**: ``[[Title]]``, ``[[Title|alias]]``, ``[[Title#Heading]]``, the odd
  ``![[figure.png]]``; targets are drawn with Zipf weights over the notes
  (:data:`LINK_ZIPF`), so in-degree follows a power law (note 0 is the biggest hub), and
  :data:`MISSING_SHARE` of the links point at notes that do not exist.
- **Tags** inline, nested ones too (``#ml/cnn``), and in front matter.
- **Daily logs** (:data:`DAILY_SHARE` of the notes): ``daily/2021/2021-03-04.md`` with a
  ``## Daily Report`` of dated ``### 2021.3.4`` headings.
- **File names** as people write them: English with spaces, Chinese, mixed, in folders.

The first notes are fixed (:data:`ANCHORS`, in ``topics/``): they hold every word of
:data:`SEARCH_WORDS` and :data:`QUERIES`, link into a chain (so :data:`PATH_TOPICS` are
connected) and are the most linked notes, so the benchmark's searches always find something
and its graph commands always have a topic, whatever the size of the vault.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import words

GEN_VERSION = 1
"""Bump when the output changes: cached vaults (bench/run.py) are keyed by it."""

SIZE_MEDIAN = 1830
"""Median note size in bytes (the mean is about 2,500: lognormal)."""
SIZE_SIGMA = 1.1
SIZE_MIN, SIZE_MAX = 120, 80_000
FRONTMATTER_SHARE = 0.6
DAILY_SHARE = 0.06
TERM_ZIPF = 1.0
"""Exponent of the Zipf law terms are drawn with (weight 1/(rank + TERM_SHIFT)^s)."""
TERM_SHIFT = 5
LINK_ZIPF = 1.0
"""Exponent of the Zipf law link targets are drawn with (in-degree of the note ranked r ~ 1/r)."""
MISSING_SHARE = 0.05
JARGON_SHARE = 0.5
"""Share of the noun slots of a sentence that get a term (the others a plain word)."""
LINK_SHARE = 0.35
"""Share of sentences that carry a wikilink."""

ANCHORS: list[tuple[str, list[str]]] = [
    ("Transformer", ["变换器"]),
    ("注意力机制", ["Attention Mechanism"]),
    ("Gradient Descent", ["梯度下降"]),
    ("卷积神经网络", ["CNN", "Convolutional Neural Network"]),
    ("Batch Normalization", ["批量规范化", "BN"]),
    ("残差网络", ["ResNet"]),
    ("Dropout", ["暂退法"]),
    ("知识蒸馏", ["Knowledge Distillation"]),
    ("Learning Rate", ["学习率"]),
    ("Label Smoothing", ["标签平滑"]),
]
"""Notes every generated vault has, in topics/: the biggest hubs, linked in a chain."""

SEARCH_WORDS = ("gradient", "transformer", "卷积", "注意力", "dropout")
"""Single words for `kb search WORD` and `rg -i WORD`: in every generated vault."""
QUERIES = (
    *SEARCH_WORDS,
    '"learning rate"',
    "tag:ml/cnn attention",
    "path:topics/ 梯度",
    "dropout OR 残差",
    "optim*",
    "卷积 attention",
)
"""The in-process query set: English, Chinese, a phrase, filters, an OR, a prefix, mixed."""
SHOW_TOPIC = "Transformer"
PATH_TOPICS = ("Label Smoothing", "Transformer")
GRAPH_TOPIC = "Dropout"

_ANCHOR_TEXT = (
    "The learning rate of gradient descent decides how fast a transformer with attention and "
    "dropout is optimized; 卷积 与 注意力 都可以 用 残差 连接 加速 训练，梯度 更 稳定。 #ml/cnn"
)


@dataclass(slots=True)
class Summary:
    """What :func:`generate` wrote."""

    notes: int
    bytes: int
    links: int
    missing_links: int
    seconds: float


class _Zipf:
    """Draws indexes 0..n-1 with weight 1/(i+shift)^s (bisect over cumulative weights)."""

    def __init__(self, rng: random.Random, n: int, s: float, shift: int = 1):
        self.rng = rng
        self.population = range(n)
        self.cum = list(itertools.accumulate(1.0 / (i + shift) ** s for i in range(n)))

    def draw(self, k: int = 1) -> list[int]:
        return self.rng.choices(self.population, cum_weights=self.cum, k=k)

    def one(self) -> int:
        return self.rng.choices(self.population, cum_weights=self.cum)[0]


@dataclass(slots=True)
class _Planned:
    title: str
    folder: str
    daily: datetime.date | None
    aliases: list[str]


class _Writer:
    """Builds the notes' text from one random stream."""

    def __init__(self, notes: int, seed: int):
        self.rng = random.Random(seed)
        self.terms = _Zipf(self.rng, len(words.TERMS), TERM_ZIPF, TERM_SHIFT)
        self.links = _Zipf(self.rng, notes, LINK_ZIPF)
        self.plan = self._plan(notes)
        self.titles = {p.title for p in self.plan}
        self.link_count = 0
        self.missing_count = 0

    # -- titles and folders ------------------------------------------------------------------
    def _plan(self, notes: int) -> list[_Planned]:
        rng = self.rng
        plan = [_Planned(t, "topics", None, list(a)) for t, a in ANCHORS[:notes]]
        taken = {p.title.casefold() for p in plan}
        day = datetime.date(2019, 1, 1)
        while len(plan) < notes:
            if rng.random() < DAILY_SHARE:
                day += datetime.timedelta(days=rng.randint(1, 3))
                plan.append(_Planned(day.isoformat(), f"daily/{day.year}", day, []))
                continue
            for attempt in itertools.count():
                title, alias = self._title()
                if attempt > 8:
                    title = f"{title} {attempt}"
                if title.casefold() not in taken:
                    break
            taken.add(title.casefold())
            aliases = [alias] if alias and rng.random() < 0.5 else []
            plan.append(_Planned(title, rng.choice(words.FOLDERS), None, aliases))
        return plan

    def _title(self) -> tuple[str, str | None]:
        """A title and, when it names one term, the term in the other language."""
        rng = self.rng
        a, b = (rng.choice(words.TERMS) for _ in range(2))  # uniform: titles rarely repeat
        if rng.random() < 0.5:
            pattern = rng.choice(words.TITLE_PATTERNS_EN)
            en = a[0][:1].upper() + a[0][1:]
            return pattern.format(A=en, B=b[0]), (a[1] if pattern == "{A}" else None)
        pattern = rng.choice(words.TITLE_PATTERNS_ZH)
        return pattern.format(A=a[1], B=b[1]), (a[0] if pattern == "{A}" else None)

    # -- prose -------------------------------------------------------------------------------
    def _term(self) -> tuple[str, str]:
        return words.TERMS[self.terms.one()]

    def _link(self, me: int) -> str:
        rng = self.rng
        self.link_count += 1
        if rng.random() < MISSING_SHARE:
            self.missing_count += 1
            en, zh = self._term()
            name = f"{en} (draft)" if rng.random() < 0.5 else f"{zh}草稿"
            return f"[[{name}]]"
        target = self.links.one()
        if target == me:
            target = (target + 1) % len(self.plan)
        planned = self.plan[target]
        roll = rng.random()
        if roll < 0.12:
            return f"[[{planned.title}|{rng.choice(self._names(planned))}]]"
        if roll < 0.20:
            return f"[[{planned.title}#{rng.choice(words.HEADINGS)}]]"
        return f"[[{planned.title}]]"

    def _names(self, planned: _Planned) -> list[str]:
        return planned.aliases or [planned.title.lower()]

    def _slot(self, lang: int, me: int, link_ok: bool) -> str:
        """A term in English (0) or Chinese (1), now and then a link, as often a plain word."""
        roll = self.rng.random()
        if link_ok and roll < LINK_SHARE / 3:
            return self._link(me)
        if roll < 1 - JARGON_SHARE:
            return self.rng.choice(words.GENERIC_ZH if lang else words.GENERIC_EN)
        return self._term()[lang]

    def sentence(self, me: int) -> str:
        rng = self.rng
        kind = rng.random()
        s = self._slot
        if kind < 0.3:
            text = (
                f"{rng.choice(words.EN_OPENERS)} the {s(0, me, True)} "
                f"{rng.choice(words.EN_VERBS)} the {s(0, me, True)} when the "
                f"{s(0, me, False)} is {rng.choice(words.EN_ADJECTIVES)}."
            )
        elif kind < 0.6:
            text = (
                f"{rng.choice(words.ZH_OPENERS)}{s(1, me, True)}{rng.choice(words.ZH_VERBS)}"
                f"{s(1, me, True)}{rng.choice(words.ZH_CONNECTIVES)}{s(1, me, False)}"
                f"{rng.choice(words.ZH_ADJECTIVES)}。"
            )
        elif kind < 0.8:
            en, zh = self._term()
            text = (
                f"{zh}（{en}）{rng.choice(words.ZH_VERBS)}{s(1, me, True)}，which "
                f"{rng.choice(words.EN_VERBS)} the {s(0, me, True)}。"
            )
        else:
            text = (
                f"用 {s(0, me, True)} {rng.choice(words.ZH_VERBS)}{s(1, me, False)}，the "
                f"{s(0, me, True)} is {rng.choice(words.EN_ADJECTIVES)}。"
            )
        roll = rng.random()
        if roll < 0.06:
            text += f" #{rng.choice(words.TAGS)}"
        elif roll < 0.10:
            text += f" {rng.choice(words.INLINE_MATH)}"
        return text

    def paragraph(self, me: int) -> str:
        sep = "" if self.rng.random() < 0.4 else " "
        return sep.join(self.sentence(me) for _ in range(self.rng.randint(1, 5)))

    # -- blocks ------------------------------------------------------------------------------
    def block(self, me: int) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.55:
            return self.paragraph(me)
        if roll < 0.67:  # bold-lead list: the concepts of notes written without links
            items = []
            for _ in range(rng.randint(2, 5)):
                en, zh = self._term()
                lead = en if rng.random() < 0.5 else zh
                items.append(f"- **{lead}**: {self.sentence(me)}")
            return "\n".join(items)
        if roll < 0.76:
            items = [f"- {self.sentence(me)}" for _ in range(rng.randint(2, 5))]
            if rng.random() < 0.5:
                items.insert(1, f"    - {self.sentence(me)}")
            return "\n".join(items)
        if roll < 0.80:
            return "\n".join(f"{i}. {self.sentence(me)}" for i in range(1, rng.randint(3, 6)))
        if roll < 0.87:
            lang, code = rng.choice(words.CODE_SNIPPETS)
            return f"```{lang}\n{code}```"
        if roll < 0.93:
            return f"$$\n{rng.choice(words.FORMULAS)}\n$$"
        if roll < 0.96:
            return f"> {self.sentence(me)}"
        if roll < 0.97:  # an attachment the vault does not hold, as often in real vaults
            return f"![[{self._term()[0]} diagram.png]]"
        see = ", ".join(self._link(me) for _ in range(rng.randint(1, 4)))
        return f"See also: {see}"

    def frontmatter(self, planned: _Planned) -> str:
        rng = self.rng
        lines = ["---"]
        if planned.aliases:
            lines.append(f"aliases: [{', '.join(planned.aliases)}]")
        tags = sorted({rng.choice(words.TAGS) for _ in range(rng.randint(1, 3))})
        form = rng.random()
        if form < 0.4:
            lines.append(f"tags: [{', '.join(tags)}]")
        elif form < 0.7:
            lines.append("tags:")
            lines += [f"  - {t}" for t in tags]
        else:
            lines.append(f"tags: {' '.join(tags)}")
        day = datetime.date(2018, 1, 1) + datetime.timedelta(days=rng.randint(0, 2000))
        lines.append(f"created: {day.isoformat()}")
        lines.append("---")
        return "\n".join(lines)

    def note(self, me: int) -> str:
        rng = self.rng
        planned = self.plan[me]
        size = int(rng.lognormvariate(math.log(SIZE_MEDIAN), SIZE_SIGMA))
        size = min(max(size, SIZE_MIN), SIZE_MAX)
        parts: list[str] = []
        anchor = me < len(ANCHORS)
        if anchor or (planned.daily is None and rng.random() < FRONTMATTER_SHARE):
            parts.append(self.frontmatter(planned))
        if anchor or rng.random() < 0.5:
            parts.append(f"# {planned.title}")
        if anchor:
            previous = f" See [[{ANCHORS[me - 1][0]}]]." if me else ""
            parts.append(_ANCHOR_TEXT + previous)
        if planned.daily is not None:
            parts += self._daily(me, planned.daily, size)
        else:
            parts.append(self.paragraph(me))
            used = sum(len(p) for p in parts) * 2  # ~2 bytes a character (CJK is 3, ASCII 1)
            level = 2
            while used < size:
                if rng.random() < 0.2:
                    level = rng.choice([2, level, min(level + 1, 4)])
                    heading = rng.choice(words.HEADINGS)
                    if rng.random() < 0.5:
                        heading = f"{heading}: {self._term()[rng.randint(0, 1)]}"
                    parts.append(f"{'#' * level} {heading}")
                block = self.block(me)
                parts.append(block)
                used += 2 * len(block)
        return "\n\n".join(parts) + "\n"

    def _daily(self, me: int, day: datetime.date, size: int) -> list[str]:
        rng = self.rng
        parts = ["## Daily Report"]
        used = 0
        while used < size:
            parts.append(f"### {day.year}.{day.month}.{day.day}")
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.4:
                    parts.append(f"#### {self._term()[rng.randint(0, 1)]}")
                block = self.block(me)
                parts.append(block)
                used += 2 * len(block)
            day -= datetime.timedelta(days=1)
        return parts


def generate(out: Path, notes: int, seed: int) -> Summary:
    """Write a vault of ``notes`` notes into ``out`` (created; it must not hold anything)."""
    if notes < 1:
        raise ValueError("--notes must be at least 1")
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: give a new folder")
    writer = _Writer(notes, seed)
    total = 0
    folders: set[str] = set()
    for me, planned in enumerate(writer.plan):
        if planned.folder not in folders:
            (out / planned.folder).mkdir(parents=True, exist_ok=True)
            folders.add(planned.folder)
        data = writer.note(me).encode("utf-8")
        (out / planned.folder / f"{planned.title}.md").write_bytes(data)
        total += len(data)
    return Summary(
        notes, total, writer.link_count, writer.missing_count, time.perf_counter() - start
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out", type=Path, help="folder to write (new or empty)")
    parser.add_argument("--notes", type=int, default=6000, help="number of notes (default 6000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    try:
        s = generate(args.out, args.notes, args.seed)
    except (FileExistsError, ValueError) as e:
        sys.exit(f"bench.gen: {e}")
    print(
        f"{s.notes} notes, {s.bytes / 1e6:.1f} MB, {s.links} links "
        f"({s.missing_links} to missing notes) in {args.out} ({s.seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
