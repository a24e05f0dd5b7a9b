#!/usr/bin/env python3
"""Generates a deterministic corpus of articles in the real format.

    bench/gen_corpus.py N DIR [--hugo]

Each article has the seed's front-matter keys, about one in five carries the
raw-apostrophe defect real files have, 2-10 KB of Markdown with headings,
lists, code, links and images, and tags. The same N always gives the same
bytes. With --hugo the front matter is valid YAML (apostrophes doubled) and
`date` is set, so Hugo can read it too.
"""

import os
import random
import sys

WORDS = (
    "model data training inference latency efficient open source research "
    "compute cluster benchmark accuracy dataset token context window agent "
    "reasoning policy safety alignment deployment edge mobile energy cost "
    "startup investment regulation developer framework library release paper"
).split()
TAGS = ["ai", "policy", "research", "startups", "edge-ai", "open-source", "hardware", "safety", "llm", "robotics"]
AUTHORS = ["Santiago Ramirez", "Amara Okafor", "Lena Fischer", "Kenji Watanabe", "Priya Natarajan"]


def sentence(rng, n=None):
    n = n or rng.randint(8, 20)
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))


def make_pool():
    """A fixed pool of Markdown blocks; articles pick from it (fast, and
    still the same bytes for the same N)."""
    rng = random.Random(12345)
    pool = []
    for i in range(600):
        kind = i % 6
        if kind == 0:
            block = "## " + sentence(rng, 5).rstrip(".")
        elif kind == 1:
            block = "\n".join("- " + sentence(rng, 6) for _ in range(rng.randint(3, 5)))
        elif kind == 2:
            block = "```rust\nfn main() {\n    let x = %d;\n    println!(\"{}\", x * 2);\n}\n```" % rng.randint(1, 999)
        elif kind == 3:
            block = "![%s](https://media.example.com/img/%d.jpg)" % (sentence(rng, 4).rstrip("."), rng.randint(1, 10**6))
        elif kind == 4:
            block = paragraph(rng) + " See [the paper](https://papers.example.org/%d) and [our notes](../notes-%d/)." % (
                rng.randint(1, 10**6),
                rng.randint(1, 999),
            )
        else:
            block = paragraph(rng)
        pool.append(block)
    return pool


POOL = make_pool()


def body(rng, target):
    parts = []
    size = 0
    while size < target:
        block = POOL[rng.randrange(len(POOL))]
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts) + "\n"


def article(i, hugo):
    rng = random.Random(i)
    title = sentence(rng, rng.randint(5, 10)).rstrip(".")
    defect = i % 5 == 0 and not hugo
    subtitle = "How %s's approach changes %s" % (rng.choice(AUTHORS).split()[0], sentence(rng, 6).rstrip(".").lower())
    if not defect:
        subtitle = subtitle.replace("'", "''")
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    year = 2015 + (i // 336) % 10
    date = "%04d-%02d-%02d" % (year, month, day)
    tags = ", ".join(rng.sample(TAGS, rng.randint(1, 3)))
    lines = [
        "---",
        "title: '%s'" % title,
        "subtitle: '%s'" % subtitle,
        "description: '%s'" % " ".join(sentence(rng) for _ in range(2)),
        "author: '%s'" % rng.choice(AUTHORS),
        "read_time: '%d mins'" % rng.randint(3, 12),
        "publish_date: '%s'" % date,
        "created_date: '%s'" % date,
        "heroImage: 'https://media.example.com/hero/%d.jpg'" % i,
        "cta: 'Follow us for more on %s!'" % rng.choice(WORDS),
        "tags: [%s]" % tags,
    ]
    if hugo:
        lines.append("date: '%sT09:00:00Z'" % date)
    lines.append("---")
    return "\n".join(lines) + "\n\n" + body(rng, rng.randint(2048, 10240))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    hugo = "--hugo" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        sub = os.path.join(out, "%03d" % (i // 1000))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "article-%06d.md" % i), "w", encoding="utf-8") as f:
            f.write(article(i, hugo))


if __name__ == "__main__":
    main()
