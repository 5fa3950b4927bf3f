"""Tampering with a ledger file, one class at a time: each is caught (a report that is not ok, or a LedgerError for a
file that is no ledger at all), never a traceback, and never "ok" unless the content is provably unchanged.

The anchors come from outside the file, as a verifier keeps them: the operator's public key, the participants'
keys (trust.json) and a checkpoint of the head signed by the operator (checkpoint.json). The attacker here can
write the ledger file and, where said, holds the operator's private key (the demo writes it beside the ledger).
"""
from __future__ import annotations

import json
import random
import sqlite3

import pytest
from typer.testing import CliRunner

from wattscale.cli import app
from wattscale.decisions.market import entries  # noqa: F401 - the market's kinds of entry
from wattscale.errors import LedgerError
from wattscale.ledger.anchors import Anchors, anchors_of, fingerprint, sign_checkpoint
from wattscale.ledger.book import Ledger, check_proof, make, verify_file
from wattscale.ledger.canonical import canonical
from wattscale.ledger.keys import Identity

runner = CliRunner()
T0 = "2023-07-01T00:00:00Z"


def build(path, op: Identity, sites: list[Identity], *, match_price=42.5, settle_mwh=1.0) -> dict:
    """A small ledger (5 blocks, 9 entries), closed as a single file; returns its trust document and checkpoint."""
    led = Ledger.create(path, op, price_floor_usd_per_mwh=-100, price_cap_usd_per_mwh=5000)
    led.append([make("participant", {"name": s.name, "public_key": s.public_hex}, op, s) for s in sites], op)
    led.append([make("order", {"id": "b1", "participant": sites[0].name, "interval": T0, "side": "buy",
                               "quantity_mwh": 1.0, "price_usd_per_mwh": 55.0}, sites[0]),
                make("order", {"id": "s1", "participant": sites[1].name, "interval": T0, "side": "sell",
                               "quantity_mwh": 1.0, "price_usd_per_mwh": 30.0}, sites[1])], op)
    led.append([make("match", {"id": "m1", "interval": T0, "buy_order": "b1", "sell_order": "s1",
                               "quantity_mwh": 1.0, "price_usd_per_mwh": match_price}, op)], op)
    led.append([make("settlement", {"id": "st1", "participant": sites[0].name, "period": "2023-07-01",
                                    "energy_mwh": settle_mwh, "amount_usd": -match_price * settle_mwh},
                     sites[0], op)], op)
    out = {"trust": led.trust(), "checkpoint": led.checkpoint(op)}
    led.close()
    return out


@pytest.fixture
def real(tmp_path):
    """The genuine ledger and the anchors its verifiers kept."""
    op, sites = Identity.generate("operator"), [Identity.generate(f"site-{i}") for i in range(3)]
    path = tmp_path / "ledger.sqlite"
    docs = build(path, op, sites)
    return {"path": path, "op": op, "sites": sites, **docs,
            "pinned": anchors_of(docs["trust"], docs["checkpoint"])}


def caught(path, anchors: Anchors | None = None) -> str:
    """The reason the file does not verify ('' if it verifies; it must never raise anything else)."""
    try:
        rep = verify_file(path, anchors)
    except LedgerError as exc:
        return f"not a ledger: {exc}"
    return "" if rep.ok else rep.problem


def sql(path, *statements) -> None:
    raw = sqlite3.connect(path)
    with raw:
        for s in statements:
            raw.execute(*s) if isinstance(s, tuple) else raw.execute(s)
    raw.close()


def dump(path) -> list[str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# ---------------------------------------------------------------- anchors: what only trust from outside can catch
def test_genuine_ledger_verifies_against_every_anchor_and_unanchored_says_so(real):
    path, op = real["path"], real["op"]
    for anchors in (real["pinned"], Anchors(op.public_hex), Anchors(fingerprint(op.public_hex)),
                    Anchors(checkpoint=real["checkpoint"]), Anchors(head_hash=real["checkpoint"]["head_hash"])):
        rep = verify_file(path, anchors)
        assert rep.ok and rep.anchored and rep.anchors, (anchors, rep.problem)
    rep = verify_file(path)
    assert rep.ok and not rep.anchored and "rebuild it with a new key" in rep.unchecked[0]
    assert verify_file(path, Anchors(op.public_hex)).unchecked == ["blocks cut from the end (needs a checkpoint "
                                                                    "or a head hash)"]


def test_chain_rebuilt_with_a_new_operator_key_is_caught_by_any_pin(real, tmp_path):
    """The whole ledger made again by someone without the operator's key, with a forged match at 4999 USD/MWh."""
    forged = tmp_path / "forged.sqlite"
    build(forged, Identity.generate("operator"), [Identity.generate(s.name) for s in real["sites"]],
          match_price=4999.0)
    assert verify_file(forged).ok  # consistent in itself: why the file alone proves nothing
    assert not verify_file(forged).anchored
    for anchors in (real["pinned"], Anchors(real["op"].public_hex), Anchors(checkpoint=real["checkpoint"])):
        assert "not the pinned operator key" in caught(forged, anchors)
    assert "expected head" in caught(forged, Anchors(head_hash=real["checkpoint"]["head_hash"]))
    res = runner.invoke(app, ["ledger", "verify", str(forged)])
    assert res.exit_code == 3 and "NOT anchored" in res.output and "ok:" not in res.output
    res = runner.invoke(app, ["ledger", "verify", str(forged), "--operator-key", real["op"].public_hex])
    assert res.exit_code == 1 and "tampered" in res.output and "Traceback" not in res.output


def test_participant_key_swapped_and_resigned_with_the_operator_key_is_caught_by_pins(real, tmp_path):
    """Whoever holds the operator's key re-registers site-1 under a key of their own and re-signs everything."""
    op, sites = real["op"], list(real["sites"])
    sites[1] = Identity.generate("site-1")
    forged = tmp_path / "swapped.sqlite"
    build(forged, op, sites, match_price=4999.0)
    assert verify_file(forged, Anchors(op.public_hex)).ok  # the operator vouches for it: pinning it is not enough
    assert "'site-1' is registered with key" in caught(forged, anchors_of(real["trust"]))
    assert "not the block of the signed checkpoint" in caught(forged, Anchors(checkpoint=real["checkpoint"]))


def test_tail_cut_is_caught_by_the_checkpoint_and_a_regrown_tail_too(real, tmp_path):
    path = real["path"]
    sql(path, "DELETE FROM entries WHERE height = 4", "DELETE FROM blocks WHERE height = 4")
    assert verify_file(path, Anchors(real["op"].public_hex)).ok  # a cut chain is still a chain
    assert "1 block cut from the end" in caught(path, real["pinned"])
    assert "expected head" in caught(path, Anchors(head_hash=real["checkpoint"]["head_hash"]))
    led = Ledger.open(path)  # the operator grows another tail over the cut
    s0 = real["sites"][0]
    led.append([make("settlement", {"id": "st1", "participant": "site-0", "period": "2023-07-01",
                                    "energy_mwh": 0.5, "amount_usd": -1.0}, s0, real["op"])], real["op"])
    led.close()
    assert "not the block of the signed checkpoint" in caught(path, real["pinned"])


def test_growth_after_the_checkpoint_verifies_and_says_what_is_not_pinned(real):
    led = Ledger.open(real["path"])
    s0, op, late = real["sites"][0], real["op"], Identity.generate("site-late")
    led.append([make("order", {"id": "b2", "participant": "site-0", "interval": T0, "side": "buy",
                               "quantity_mwh": 2.0, "price_usd_per_mwh": 50.0}, s0),
                make("participant", {"name": late.name, "public_key": late.public_hex}, op, late)], op)
    led.close()
    rep = verify_file(real["path"], real["pinned"])
    assert rep.ok and rep.blocks == 6 and any("1 block since" in a for a in rep.anchors)
    assert rep.unchecked == ["the keys of 1 participant registered later are vouched for by the operator only "
                             "(not pinned)"]


def test_forged_or_foreign_checkpoint_is_caught(real):
    cp = dict(real["checkpoint"])
    cp["height"], cp["entries"] = 2, 6  # claims a shorter chain, to hide a cut
    assert "signature does not hold" in caught(real["path"], Anchors(checkpoint=cp))
    other = sign_checkpoint(Identity.generate("operator"), market="m", height=4, entries=9,
                            head_hash=real["checkpoint"]["head_hash"])
    assert "not the pinned" in caught(real["path"], Anchors(real["op"].public_hex, checkpoint=other))
    assert "not the pinned operator key" in caught(real["path"], Anchors(checkpoint=other))


def test_self_made_proof_is_refused_against_the_real_operator(real, tmp_path):
    fake = tmp_path / "fake.sqlite"
    mallory = [Identity.generate(s.name) for s in real["sites"]]
    build(fake, Identity.generate("operator"), mallory, settle_mwh=999_999.0)
    with Ledger.open(fake, write=False) as led:
        proof = led.prove("st1")
    assert proof["entry"]["body"]["energy_mwh"] == 999_999.0 and check_proof(proof) == ""  # consistent, not true
    assert "pinned operator key" in check_proof(proof, operator_key=real["op"].public_hex)
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(proof))
    res = runner.invoke(app, ["ledger", "check", str(f)])
    assert res.exit_code == 3 and "NOT anchored" in res.output and "ok:" not in res.output
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(real["trust"]))
    res = runner.invoke(app, ["ledger", "check", str(f), "--trust", str(trust)])
    assert res.exit_code == 1 and "invalid" in res.output


# ---------------------------------------------------------------- malformed files: a clear answer, never a crash
GARBAGE = {
    "header 'garbage'": ("UPDATE blocks SET header = 'garbage' WHERE height = 2",),
    "header '[1,2]'": ("UPDATE blocks SET header = '[1,2]' WHERE height = 2",),
    "header not canonical": ("UPDATE blocks SET header = header || ' ' WHERE height = 1",),
    "header as a blob": ("UPDATE blocks SET header = CAST(header AS BLOB) WHERE height = 3",),
    "signature in capitals": ("UPDATE blocks SET signature = upper(signature) WHERE height = 3",),
    "record 'garbage'": ("UPDATE entries SET record = 'garbage' WHERE seq = 4",),
    "record '[1,2]'": ("UPDATE entries SET record = '[1,2]' WHERE seq = 4",),
    "record nested 100,000 deep": (("UPDATE entries SET record = ? WHERE seq = 4", ("[" * 100_000 + "]" * 100_000,)),),
    "undecodable record": ("UPDATE entries SET record = CAST(x'fffe41' AS TEXT) WHERE seq = 4",),
    "undecodable header": ("UPDATE blocks SET header = CAST(x'c3' AS TEXT) WHERE height = 0",),
    "entries dropped": ("DROP TABLE entries",),
    "blocks dropped": ("DROP TABLE blocks",),
    "index dropped": ("DROP INDEX entries_height",),
    "table added": ("CREATE TABLE notes (x)",),
    "trigger added": ("CREATE TRIGGER t AFTER INSERT ON entries BEGIN DELETE FROM entries; END",),
    "height as text": ("UPDATE entries SET height = 'two' WHERE seq = 4",),
    "block heights shifted": ("UPDATE blocks SET height = height + 10 WHERE height = 4",),
}


def _registration_without_key(path):
    raw = sqlite3.connect(path)
    rec = json.loads(raw.execute("SELECT record FROM entries WHERE seq = 1").fetchone()[0])
    del rec["body"]["public_key"]
    raw.execute("UPDATE entries SET record = ? WHERE seq = 1", (canonical(rec).decode(),))
    raw.commit()
    raw.close()


@pytest.mark.parametrize("case", [*GARBAGE, "registration without public_key"])
def test_malformed_content_is_tampered_not_a_crash(real, case):
    path = real["path"]
    if case in GARBAGE:
        sql(path, *GARBAGE[case])
    else:
        _registration_without_key(path)
    before = path.read_bytes()
    for anchors in (None, real["pinned"]):
        rep = verify_file(path, anchors)
        assert not rep.ok and rep.problem, case
    assert path.read_bytes() == before  # verifying reads only


def test_cli_gives_one_clear_line_for_malformed_ledgers(real, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(real["trust"]))
    sql(real["path"], "UPDATE blocks SET header = '[1,2]' WHERE height = 2", "DROP INDEX entries_height")
    res = runner.invoke(app, ["ledger", "verify", str(real["path"]), "--trust", str(trust)])
    assert res.exit_code == 1 and res.output.startswith("tampered: the ledger's index 'entries_height' is missing")
    assert "Traceback" not in res.output
    image = tmp_path / "image.sqlite"  # a malformed database image: the first table page overwritten
    data = bytearray((tmp_path / "ledger.sqlite").read_bytes())
    data[4096: 8192] = bytes(range(256)) * 16
    image.write_bytes(bytes(data))
    res = runner.invoke(app, ["ledger", "verify", str(image)])
    assert res.exit_code in (1, 2) and ("not a readable ledger" in res.output or "corrupt" in res.output), res.output
    assert "Traceback" not in res.output
    for bad, why in (("garbage", "cannot read the trust file"), ('{"format": "x"}', "not a trust file")):
        trust.write_text(bad)
        res = runner.invoke(app, ["ledger", "verify", str(real["path"]), "--trust", str(trust)])
        assert res.exit_code == 2 and why in res.output and "Traceback" not in res.output, res.output
    res = runner.invoke(app, ["ledger", "verify", str(real["path"]), "--operator-key", "abc"])
    assert res.exit_code == 2 and "not a public key or fingerprint" in res.output


def test_malformed_database_images_are_refused_or_tampered(real, tmp_path):
    data = real["path"].read_bytes()
    for name, image in {"half the file": data[: len(data) // 2], "header zeroed": bytes(100) + data[100:],
                        "page 5 zeroed": data[: 4 * 4096] + bytes(4096) + data[5 * 4096:],
                        "meta dropped": None}.items():
        path = tmp_path / f"{name}.sqlite"
        if image is None:
            path.write_bytes(data)
            sql(path, "DROP TABLE meta")
        else:
            path.write_bytes(image)
        assert caught(path, real["pinned"]), name


def _corrupt_index(path) -> bytes:
    """The file with one bit of the entries_height index flipped so that SQLite's integrity check fails while
    every table row is as before (the first such bit in the index page's cells)."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'entries_height'").fetchone()[0]
    conn.close()
    start = (root - 1) * page_size
    cells = int.from_bytes(data[start + 5: start + 7], "big") or page_size
    probe = path.with_name("probe.sqlite")
    original = dump(path)
    for pos in range(start + cells, start + page_size):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        probe.write_bytes(bytes(flipped))
        conn = sqlite3.connect(probe)
        report = " ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        conn.close()
        if "entries_height" in report and dump(probe) == original:
            return bytes(flipped)
    raise AssertionError("no bit of the index page corrupts the index alone")  # pragma: no cover


def test_index_corruption_is_caught_by_the_integrity_check(real):
    path = real["path"]
    path.write_bytes(_corrupt_index(path))
    problem = caught(path, real["pinned"])
    assert "integrity check" in problem and "entries_height" in problem


# ---------------------------------------------------------------- random bit flips
FLIPS = 256  # uniform over the file, and as many again over its non-zero bytes (where the content is)


def test_random_bit_flips_are_caught_or_leave_the_content_unchanged(real, tmp_path):
    """Every single-bit flip is either detected (a LedgerError, or a report that is not ok) or provably left the
    content as it was: the flipped file's logical dump (schema and every row, ``iterdump``) equals the original's."""
    data = real["path"].read_bytes()
    original = dump(real["path"])
    rng = random.Random(20240611)
    used = [i for i, b in enumerate(data) if b]
    flips = [(rng.randrange(len(data)), rng.randrange(8)) for _ in range(FLIPS)] + \
        [(rng.choice(used), rng.randrange(8)) for _ in range(FLIPS)]
    tally = {"uniform": [0, 0], "content": [0, 0]}  # [detected, unchanged]
    for k, (pos, bit) in enumerate(flips):
        work = tmp_path / f"flip{k}"
        work.mkdir()
        path = work / "ledger.sqlite"
        flipped = bytearray(data)
        flipped[pos] ^= 1 << bit
        path.write_bytes(bytes(flipped))
        kind = "uniform" if k < FLIPS else "content"
        if caught(path, real["pinned"]):
            tally[kind][0] += 1
        else:
            assert dump(path) == original, f"byte {pos} bit {bit}: verified ok but the content changed"
            tally[kind][1] += 1
    figures = ", ".join(f"{kind}: {d} detected, {u} unchanged" for kind, (d, u) in tally.items())
    assert sum(map(sum, tally.values())) == 2 * FLIPS >= 200, figures
    assert tally["content"][0] >= FLIPS // 2, figures  # most flips in used bytes change something, and are caught
    print(f"\n{len(data):,}-byte ledger, {2 * FLIPS} single-bit flips: {figures}")
