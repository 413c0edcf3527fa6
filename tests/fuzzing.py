"""Deterministic mutation of the bundled submissions, shared by the fuzz test and benchmark.

Every mutant is derived from one bundled file by a seeded generator: bit flips, truncation,
random bytes (overwritten, inserted or a whole random file), injected NUL bytes and very long
cells; for XLSX the mutation is also applied to one XML part inside the (re-zipped) workbook,
so the parser is reached, not only the ZIP check.
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohortflow.core.errors import CohortflowError
from cohortflow.ingest.submission import read_submission

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "rr_all"

#: reader -> (bundled file, reader options, REDCap dictionary or None)
SOURCES: dict[str, tuple[Path, dict[str, Any], Path | None]] = {
    "csv": (DATA / "S01" / "S01_2017-03-20.csv", {"format": "csv"}, None),
    "xlsx": (DATA / "S08" / "S08_2017-03-27.xlsx", {"format": "xlsx"}, None),
    "sav": (DATA / "S09" / "S09_2017-04-03.sav", {"format": "sav"}, None),
    "redcap": (
        DATA / "S03" / "S03_2017-03-02_redcap.csv",
        {"format": "redcap"},
        DATA / "S03" / "S03_2017-03-02_dictionary.csv",
    ),
}
MUTATIONS = ("bitflip", "truncate", "overwrite", "insert", "random_file", "nul", "long_cell")


def mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    """One mutation of ``data`` (bytes) chosen by ``kind``, driven by ``rng``."""
    b = bytearray(data)
    n = max(len(b), 1)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 16)):
            if b:
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del b[rng.randrange(n) :]
    elif kind == "overwrite":
        i, k = rng.randrange(n), rng.randint(1, 64)
        b[i : i + k] = rng.randbytes(k)
    elif kind == "insert":
        i = rng.randrange(n)
        b[i:i] = rng.randbytes(rng.randint(1, 256))
    elif kind == "random_file":
        b = bytearray(rng.randbytes(rng.randint(0, 4096)))
    elif kind == "nul":
        for _ in range(rng.randint(1, 4)):
            b.insert(rng.randrange(n), 0)
    elif kind == "long_cell":
        # a cell of up to 12 MB (beyond the stdlib csv field limit of 128 KiB) after a
        # delimiter or inside an XML text node
        size = rng.choice((200_000, 1_000_000, 12_000_000)) if rng.random() < 0.05 else 150_000
        stops = [i for i, c in enumerate(b) if c in b",;>"] or [0]
        i = rng.choice(stops) + 1
        b[i:i] = b"A" * size
    return bytes(b)


def mutate_xlsx(data: bytes, rng: random.Random, kind: str) -> bytes:
    """Half the time mutate the ZIP bytes, else one XML part of the workbook (re-zipped)."""
    if rng.random() < 0.5:
        return mutate(data, rng, kind)
    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    xml = [n for n in names if n.endswith(".xml")]
    target = rng.choice([n for n in xml if "worksheets/" in n or "sharedStrings" in n] or xml)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in names:
            part = src.read(name)
            dst.writestr(name, mutate(part, rng, kind) if name == target else part)
    return out.getvalue()


@dataclass
class Tally:
    """Outcomes of a fuzz run for one reader."""

    tried: int = 0
    read: int = 0
    errors: Counter = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def mutants(reader: str, n: int, seed: int = 10) -> Iterator[tuple[str, bytes, bytes | None]]:
    """``n`` deterministic (mutation, file bytes, dictionary bytes or None) for ``reader``."""
    path, _, dictionary = SOURCES[reader]
    base = path.read_bytes()
    dict_bytes = dictionary.read_bytes() if dictionary else None
    rng = random.Random(f"{seed}-{reader}")
    for i in range(n):
        kind = MUTATIONS[i % len(MUTATIONS)]
        if reader == "xlsx":
            yield kind, mutate_xlsx(base, rng, kind), None
        elif reader == "redcap" and rng.random() < 0.25:
            yield kind, base, mutate(dict_bytes, rng, kind)
        else:
            yield kind, mutate(base, rng, kind), dict_bytes


def fuzz(reader: str, n: int, workdir: Path, seed: int = 10) -> Tally:
    """Read ``n`` mutants with the named reader; every outcome is tallied."""
    path, opts, dictionary = SOURCES[reader]
    tally = Tally()
    target = workdir / f"fuzz_{reader}{path.suffix}"
    dict_target = workdir / f"fuzz_{reader}_dictionary.csv"
    t0 = time.perf_counter()
    for kind, data, dict_bytes in mutants(reader, n, seed):
        target.write_bytes(data)
        options = dict(opts)
        if dict_bytes is not None:
            dict_target.write_bytes(dict_bytes)
            options["dictionary"] = str(dict_target)
        tally.tried += 1
        try:
            read_submission(target, options, site="FUZZ")
        except CohortflowError as exc:
            text = str(exc)
            assert "site FUZZ" in text, text
            assert target.name in text or dict_target.name in text, text
            tally.errors[text.split("] ", 1)[-1][:40]] += 1
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzz test looks for
            tally.crashes.append(f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            tally.read += 1
    tally.seconds = time.perf_counter() - t0
    return tally
