"""Text as a person reads it: the one function that makes snippets, evidence and tooltips.

Section text keeps what a note's source says (kb.md_text keeps inline math as its LaTeX, the
graph keeps sentences with their ``$…$``), which is what search and matching need. Shown to a
person, that text reads badly: ``$1\\times 1$`` for 1×1, zero-width spaces, citation marks
such as ``^{[4]}``, Obsidian callout markers (``[!todo]-``). :func:`display_text` turns it into
what a reader sees, keeping the words of text-like math (``$\\max(0,x)$`` → ``max(0, x)``);
search snippets (:mod:`kb.index`), ``kb show``/``kb path`` evidence and the HTML page's
tooltips (:func:`kb.concepts.excerpt`) all go through it. Pure and stdlib-only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from kb.text import has_cjk

ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
"""Characters that take no room on screen (zero-width spaces and joiners, direction marks,
the word joiner, invisible operators, the byte-order mark, soft hyphens)."""


class _Lazy:
    """A regex compiled on first use: every ``kb search`` imports this module, and compiling
    all of them costs ~10 ms, while most texts need none (no ``$``, no backslash)."""

    __slots__ = ("source", "compiled")

    def __init__(self, source: str):
        self.source = source
        self.compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str):
        if self.compiled is None:
            self.compiled = re.compile(self.source)
        return getattr(self.compiled, name)


_ZERO_WIDTH = _Lazy(f"[{ZERO_WIDTH}]")
# d2l's :label:`sec_dropout`, :width:`400px` (the backticks gone with the code they marked):
# markup for Sphinx, nothing a reader reads (a reference is read: _REF_ROLE); the space before goes
# too where nothing but punctuation or Chinese follows ("在 :numref:sec_x。" is "在。", not "在 。")
# (d2l's :begin_tab:`mxnet` … :end_tab: too: a role's name may hold "_", and need no target)
_ROLE = _Lazy(r"([ \t]?)(?<![\w:/]):[a-z][a-z_-]*:(?:[A-Za-z0-9_.,/-]*[A-Za-z0-9_])?")
# :numref:`sec_resnet`, :eqref:`eq_softmax`, :cite:`He.Zhang.Ren.ea.2016`: a reference the
# sentence reads through ("在 :numref:`sec_resnet` 中将介绍"); dropped, it left "在 中将介绍"
_REF_ROLE = _Lazy(
    r"(?<![\w:/]):(numref|ref|eqref|cite|citep|citet):([A-Za-z0-9_.,/-]*[A-Za-z0-9_])"
)
# the label's kind, by its prefix (d2l's sec_, fig_, tab_, eq_): (Chinese, English) words
_REF_KINDS = {
    "sec": ("§", "§"),
    "subsec": ("§", "§"),
    "chap": ("§", "§"),
    "chapter": ("§", "§"),
    "section": ("§", "§"),
    "fig": ("图 ", "Figure "),
    "figure": ("图 ", "Figure "),
    "tab": ("表 ", "Table "),
    "table": ("表 ", "Table "),
}
# :ref:`Installation <chap_installation>`: a role's explicit title is what Sphinx shows
# (a title holds no clause break: "在 :numref:sec_x中，…序列结束词元“<eos>”" is a role and a word)
_TITLED_ROLE = _Lazy(
    r"(?<![\w:/]):[a-z][a-z-]*:([^\s:<>][^:<>\n，。；！？,;!?]{0,80}?)[ \t]*<[^<>\s]{1,200}>"
)
# :abbr:`BN (batch normalization)`, :term:`dropout`, :math:`x^2`: roles whose text is shown
_SHOWN_ROLE = _Lazy(
    r"(?<![\w:/]):(?:abbr|math|code|kbd|file|command|guilabel|menuselection|samp|program|"
    r"envvar|term|dfn|literal|strong|emphasis|sub|sup):(?=\S|$)"
)
# ==highlighted== (Obsidian): the marks go, the words stay
_HIGHLIGHT = _Lazy(r"(?<![A-Za-z0-9=])==(?=\S)([^=\n]{1,400}?)(?<=\S)==(?![A-Za-z0-9=])")
_CALLOUT = _Lazy(r"\[![A-Za-z][\w-]*\][+-]?[ \t]*")
# ^{[4]}, ^[4], ^{[1,2]}, ^{[3-5]}: a citation written as a superscript
_CITATION = _Lazy(r"\^\{?\[\d+(?:\s*[,，\-–]\s*\d+)*\]\}?")
_MATH = _Lazy(r"(?<![\\$])\$(?!\$)([^$\n]{1,300}?)(?<![\\\s])\$(?!\$)")

SYMBOLS = {
    "times": "×", "cdot": "·", "div": "÷", "pm": "±", "mp": "∓", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "equiv": "≡",
    "propto": "∝", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪",
    "cap": "∩", "infty": "∞", "sum": "∑", "prod": "∏", "int": "∫", "partial": "∂",
    "nabla": "∇", "forall": "∀", "exists": "∃", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "Rightarrow": "⇒", "Leftarrow": "⇐", "leftrightarrow": "↔",
    "mapsto": "↦", "ldots": "…", "cdots": "⋯", "dots": "…", "circ": "∘", "odot": "⊙",
    "otimes": "⊗", "oplus": "⊕", "top": "⊤", "perp": "⊥", "star": "⋆", "ast": "∗",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "θ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "sqrt": "√",
    "lvert": "|", "rvert": "|", "vert": "|", "lVert": "‖", "rVert": "‖", "Vert": "‖",
    "mid": "|", "langle": "⟨", "rangle": "⟩", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈",
    "rceil": "⌉", "parallel": "‖", "|": "‖", "{": "{", "}": "}", "%": "%", "_": "_", "&": "&",
    "#": "#", "$": "$",
}  # fmt: skip
"""LaTeX commands that stand for one symbol, and the symbol."""

SPACES = frozenset({",", ";", ":", "!", " ", "quad", "qquad", "enspace", "thinspace"})
"""Spacing commands: read as one space (``\\!`` as none)."""

DROPPED = frozenset(
    """left right big Big bigg Bigg bigl bigr Bigl Bigr displaystyle textstyle limits nolimits
    mathbf mathrm mathit mathcal mathbb mathsf mathtt mathfrak boldsymbol bm text textbf
    textit textrm texttt operatorname mbox hat widehat tilde widetilde bar overline underline
    vec dot ddot acute grave breve check mathring overrightarrow underset overset stackrel
    mathop""".split()
)
"""Commands that style or decorate what follows: the command goes, its argument stays
(``\\mathbf{x}`` → x, ``\\hat{y}`` → y)."""

_COMMAND = _Lazy(r"\\([A-Za-z]+|[,;:! {}%_&#$|\\])")
_FRAC_HEAD = _Lazy(r"\\[dt]?frac(?![A-Za-z])")
# \arg \underset{\theta}{\min} is arg min_θ; \overset{def}{=} is =^{def}
_UNDERSET_HEAD = _Lazy(r"\\underset(?![A-Za-z])")
_OVERSET_HEAD = _Lazy(r"\\(?:overset|stackrel)(?![A-Za-z])")
_SQRT = _Lazy(r"\\sqrt\s*\{([^{}]*)\}")
_SPACED_SIGN = _Lazy(r"\s*([×÷])\s*")
_ACCENT = _Lazy(r"\\(hat|widehat|bar|overline|tilde|widetilde|vec|dot|ddot)\s*\{([^{}]*)\}")
ACCENTS = {
    "hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "overline": "\u0304",
    "tilde": "\u0303", "widetilde": "\u0303", "vec": "\u20d7", "dot": "\u0307",
    "ddot": "\u0308",
}  # fmt: skip
"""Accents over one letter, as combining marks (``\\hat{y}`` → ŷ)."""
_ENVIRONMENT = _Lazy(r"\\(?:begin|end)\s*\{[A-Za-z*]+\}")
_GROUP = _Lazy(r"(?<![\^_])\{([^{}]*)\}")
_COMMA = _Lazy(r",(?=\S)")


def math_text(latex: str) -> str:
    """Inline LaTeX as a reader reads it: ``1\\times 1`` → ``1×1``, ``\\max(0,x)`` →
    ``max(0, x)``, ``\\mathbf{x}_i`` → ``x_i``, ``\\frac{a}{b}`` → ``a/b``. Named operators
    (``\\max``, ``\\log``, ``\\softmax``) keep their name; what is not a known command keeps
    its name too, so no word of the math is lost."""
    t = _two_arguments(_FRAC_HEAD, latex.strip(), lambda a, b: f"{_group(a)}/{_group(b)}")
    t = _two_arguments(_UNDERSET_HEAD, t, lambda a, b: f"{math_text(b)}_{_sub(a)}")
    t = _two_arguments(_OVERSET_HEAD, t, lambda a, b: f"{math_text(b)}^{_sub(a)}")
    t = _SQRT.sub(lambda m: f"√{_group(m.group(1))}", t)
    t = _ACCENT.sub(_accent, t)
    t = _ENVIRONMENT.sub(" ", t)

    def command(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in SPACES or name == "\\":  # \\ ends a line of an aligned formula
            return " "
        if name == "!":
            return ""
        if name in SYMBOLS:
            return SYMBOLS[name] + (" " if name.isalpha() and len(SYMBOLS[name]) > 1 else "")
        if name in DROPPED:
            return ""
        return name  # \max, \log, \softmax, an unknown macro: its name is what a reader says

    t = _COMMAND.sub(command, t)
    for _ in range(3):  # {x} is x; x_{ij} and x^{(i)} keep theirs (a subscript of several)
        t = _GROUP.sub(lambda m: m.group(1), t)
    t = re.sub(r"([_^])\{([^{}])\}", r"\1\2", t)
    t = _SPACED_SIGN.sub(lambda m: m.group(1), t)
    t = _COMMA.sub(", ", t)
    return " ".join(t.split())


def _two_arguments(head: _Lazy, t: str, join: Callable[[str, str], str]) -> str:
    r"""Every ``\frac{a}{b}`` (or another command of two arguments that ``head`` finds) as
    ``join(a, b)``, whatever braces ``a`` and ``b`` hold inside
    (``\frac{S'(z^i,z^j)}{\sum_{k\ne i}S'(z^i,z^k)}``); ``\frac12`` as 1/2."""
    out, at = [], 0
    for m in head.finditer(t):
        if m.start() < at:
            continue  # inside an argument already read
        a, after_a = _argument(t, m.end())
        b, after_b = _argument(t, after_a) if a is not None else (None, after_a)
        if a is None or b is None:
            continue
        out += [t[at : m.start()], join(a, b)]
        at = after_b
    return "".join(out) + t[at:] if out else t


def _sub(text: str) -> str:
    """A subscript or superscript: braced when it is more than one symbol (min_θ, max_{x∈X})."""
    inner = math_text(text)
    return inner if len(inner) <= 1 else f"{{{inner}}}"


def _argument(t: str, at: int) -> tuple[str | None, int]:
    r"""The argument of a command starting at ``at``: a balanced ``{…}`` or one character."""
    while at < len(t) and t[at] in " \t":
        at += 1
    if at >= len(t):
        return None, at
    if t[at] != "{":
        return (t[at], at + 1) if t[at].isalnum() else (None, at)
    depth = 0
    for i in range(at, min(len(t), at + 400)):
        depth += {"{": 1, "}": -1}.get(t[i], 0)
        if depth == 0:
            return t[at + 1 : i], i + 1
    return None, at


def _accent(m: re.Match[str]) -> str:
    inner = math_text(m.group(2))
    return unicodedata.normalize("NFC", inner + ACCENTS[m.group(1)]) if len(inner) == 1 else inner


def _group(text: str) -> str:
    """A fraction's part, bracketed when it is more than one symbol: a/(b+c)."""
    inner = math_text(text)
    return inner if len(inner) <= 1 or inner.isalnum() else f"({inner})"


_BRACED = r"\{(?:[^{}\n]|\{[^{}\n]{0,80}\}){0,80}\}"  # {x}, {\mathrm{argmin}}: one level deep
_BARE_LATEX = _Lazy(
    # the operand before: 1\times 1, not just \times; {arg} \underset…
    r"(?:(?:\{[A-Za-z0-9]+\}|[A-Za-z0-9.]+)[ \t]*)?"
    rf"(?:\\[A-Za-z]+(?:\s*{_BRACED})*|\\[,;:! \\|])"
    rf"(?:[\s\w^_(),.+\-*/=<>|'\[\]]{{0,12}}?(?:\\[A-Za-z]+(?:\s*{_BRACED})*|\\[,;:! \\|]))*"
    r"(?:[ \t]*[A-Za-z0-9.]+)?"  # and the one after
)
"""A run of LaTeX left in text without its dollars (kb.md_text keeps inline math so)."""


def display_text(text: str) -> str:
    """``text`` as a person should read it in a snippet, a piece of evidence or a tooltip:
    inline math as text, no zero-width characters, no citation marks, no callout markers,
    no Sphinx roles (``:numref:`fig_x```), no ``==highlight==`` marks."""
    if not text:
        return text
    if not text.isascii():  # one C scan; the zero-width characters are none of them ASCII
        text = _ZERO_WIDTH.sub("", text)
    if "[!" in text:
        text = _CALLOUT.sub("", text)
    text = strip_roles(text)
    if "==" in text:
        text = _HIGHLIGHT.sub(lambda m: m.group(1), text)
    if "^" in text:
        text = _CITATION.sub("", text)
    if "$" in text:
        text = _MATH.sub(lambda m: math_text(m.group(1)), text)
    if "\\" in text:
        text = _BARE_LATEX.sub(lambda m: _bare(m.group()), text)
    return text


def strip_roles(text: str) -> str:
    """``text`` without Sphinx roles and their targets (``:numref:`fig_x``` left as
    ``:numref:fig_x`` once the code is gone): markup, not words. A role's visible text stays:
    its explicit title (``:ref:`Installation <chap_installation>``` → Installation) or the
    text of a role that shows it (``:abbr:``, ``:term:``, ``:math:``, ``:code:``…)."""
    if ":" not in text:
        return text
    if "<" in text:
        text = _TITLED_ROLE.sub(lambda m: m.group(1), text)
    text = _SHOWN_ROLE.sub("", text)
    if "ref:" in text or "cite" in text:
        chinese = has_cjk(text)
        text = _REF_ROLE.sub(lambda m: reference(m.group(1), m.group(2), chinese), text)
    return _ROLE.sub(lambda m: "" if _closes(text, m.end()) else m.group(1), text)


def role_text(role: str, target: str, chinese: bool = False) -> str:
    """What a reader sees of the Sphinx role ``:role:`target```: a reference to follow
    (:func:`reference`), an explicit title (``Installation <chap_installation>``), the text of
    a role that shows it (``:term:`dropout```), or nothing (``:label:``, ``:width:``)."""
    title = re.fullmatch(r"([^<>]*?)\s*<[^<>]*>", target)
    if title and title.group(1):
        return title.group(1)
    if _SHOWN_ROLE.fullmatch(f":{role}:"):
        return target
    if _REF_ROLE.fullmatch(f":{role}:{target}"):
        return reference(role, target, chinese)
    return ""


def reference(role: str, target: str, chinese: bool = False) -> str:
    """A Sphinx reference as a reader can follow it, without the numbers Sphinx would give:
    ``numref sec_resnet`` → ``§resnet``, ``numref fig_inception`` → ``图 inception`` (in
    Chinese text; ``Figure inception`` in English), ``eqref eq_softmax`` → ``式 (softmax)``,
    ``cite He.Zhang.Ren.ea.2016`` → ``[He et al., 2016]`` (no "Fig. x": kb.concepts would end
    a sentence there)."""
    if role.startswith("cite"):
        return "[" + "; ".join(_citation(key) for key in target.split(",") if key) + "]"
    kind, _, name = target.partition("_")
    kind = kind.casefold() if name else ""
    if role == "eqref" or kind == "eq":
        return ("式 " if chinese else "Equation ") + f"({name if kind == 'eq' else target})"
    words = _REF_KINDS.get(kind)
    return target if words is None else words[not chinese] + name


def _citation(key: str) -> str:
    """``Ioffe.Szegedy.2015`` → ``Ioffe & Szegedy, 2015``; ``He.Zhang.Ren.ea.2016`` → ``He et
    al., 2016`` (d2l's bibliography keys: surnames, ``ea`` for the rest, the year)."""
    parts = key.split(".")
    year = parts.pop() if len(parts) > 1 and parts[-1][:4].isdigit() else ""
    names = [p for p in parts if p and p != "ea"]
    if not names:
        return key
    if "ea" in parts or len(names) > 2:
        who = f"{names[0]} et al."
    elif len(names) == 2:
        who = f"{names[0]} & {names[1]}"
    else:
        who = names[0]
    return f"{who}, {year}" if year else who  # ("et al., 2016": no sentence ends at "al.")


def _closes(text: str, i: int) -> bool:
    """True when what follows ``text[:i]`` needs no space before it: the end, a space,
    punctuation or a Chinese character."""
    if i >= len(text):
        return True
    c = text[i]
    return c.isspace() or unicodedata.category(c).startswith("P") or has_cjk(c)


def _bare(latex: str) -> str:
    """A run of LaTeX found in plain text, as text; a lone ``\\word`` that names no command
    kb knows (a Windows path, ``\\n`` in prose) is left as written."""
    names = re.findall(r"\\([A-Za-z]+)", latex)
    spacing = re.search(r"\\[,;:! ]", latex)
    if names and not spacing and not any(_known(n) for n in names):
        return latex
    text = math_text(latex)
    head = " " if latex[:1].isspace() or latex.startswith(("\\\\", "\\ ")) else ""
    tail = " " if latex[-1:].isspace() else ""
    return head + text + tail if text else " "


def _known(name: str) -> bool:
    return (
        name in SYMBOLS
        or name in DROPPED
        or name in SPACES
        or name in {"frac", "dfrac", "tfrac", "sqrt", "max", "min", "log", "exp", "sin", "cos"}
        or name in {"tanh", "arg", "argmax", "argmin", "lim", "sup", "inf", "det", "ln"}
        or name in {"begin", "end"}
    )
