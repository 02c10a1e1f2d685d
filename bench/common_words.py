"""Write kb's lists of common words, ``kb/assets/common-en.txt`` and ``common-zh.txt``, from
wordfreq's frequencies (the words at or above :data:`kb.concepts.COMMON_ZIPF`).

    python -m bench.common_words      # needs `pip install wordfreq` (the bench extra)

kb reads the lists, not wordfreq: loading wordfreq's tables cost every graph command ~0.5 s.
Run this again only to follow a new wordfreq or another threshold; the lists are committed.
"""

from __future__ import annotations

import re
from pathlib import Path

from kb.concepts import COMMON_ZIPF, COMMON_ZIPF_ZH

ASSETS = Path(__file__).resolve().parent.parent / "kb" / "assets"


def main() -> None:
    from wordfreq import get_frequency_list

    # Bin i holds the words i centibels below Zipf 9: Zipf >= z is the bins up to 900 - 100 z.
    en = get_frequency_list("en")[: round((9 - COMMON_ZIPF) * 100) + 1]
    words = sorted({w for b in en for w in b if re.fullmatch(r"[a-z]+", w) and len(w) > 1})
    zh = get_frequency_list("zh")[: round((9 - COMMON_ZIPF_ZH) * 100)]
    cjk = sorted({w for b in zh for w in b if 2 <= len(w) <= 4})
    for name, items in (("common-en.txt", words), ("common-zh.txt", cjk)):
        (ASSETS / name).write_text("\n".join(items) + "\n", encoding="utf-8")
        print(f"{ASSETS / name}: {len(items)} words")


if __name__ == "__main__":
    main()
