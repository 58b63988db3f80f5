"""Generated ticket texts with a known structure, for tests and benchmarks (pure, seeded).

Each class has its own vocabulary; a ticket draws most of its words from its class, some
from a shared pool of noise words, a share of tickets (``ambiguity``) also borrow words of
another class, and a few carry a wrong label (``mislabelled``), so a good model is clearly
better than the majority class without being perfect. Class sizes are skewed (the first
class is the most frequent).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


VOCABULARIES: dict[str, list[str]] = {
    "network": _words("vpn wifi router switch latency packet dns firewall gateway subnet"),
    "hardware": _words("laptop screen keyboard battery docking charger mouse fan disk monitor"),
    "email": _words("outlook mailbox inbox attachment calendar smtp exchange signature spam"),
    "access": _words("password locked account login mfa token permission reset sso badge"),
    "printing": _words("printer toner paper jam spooler scanner tray duplex cartridge queue"),
    "database": _words("sql query timeout index deadlock replication backup schema table oracle"),
}
NOISE = _words(
    "please help urgent today again cannot since morning user team issue problem "
    "working not error still colleague office need asap thanks hello"
)


@dataclass(frozen=True)
class Ticket:
    short_description: str
    description: str
    label: str


def tickets(
    n: int,
    *,
    seed: int = 1,
    classes: int = 6,
    ambiguity: float = 0.3,
    noise: int = 5,
    mislabelled: float = 0.08,
) -> list[Ticket]:
    rng = random.Random(seed)
    names = list(VOCABULARIES)[:classes]
    weights = [1.0 / (i + 1) ** 0.7 for i in range(len(names))]
    out = []
    for _ in range(n):
        label = rng.choices(names, weights)[0]
        own = VOCABULARIES[label]
        words = rng.sample(own, 2) + rng.sample(NOISE, noise)
        if rng.random() < ambiguity:
            other = rng.choice([c for c in names if c != label])
            words += rng.sample(VOCABULARIES[other], 2)
        if rng.random() < mislabelled:  # the history's own mistakes
            label = rng.choice(names)
        rng.shuffle(words)
        short = " ".join(words[:5])
        out.append(Ticket(short, " ".join(words[5:]) + f" ref {rng.randint(1000, 9999)}", label))
    return out
