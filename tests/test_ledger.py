"""The signed settlement ledger: RFC 6962 Merkle vectors, tamper detection of every kind, refusals that lose
nothing, inclusion proofs, and a real child process killed with SIGKILL in the middle of an append."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from wattscale.decisions.market import entries  # noqa: F401 - the market's kinds of entry
from wattscale.errors import LedgerError
from wattscale.ledger.anchors import Anchors
from wattscale.ledger.book import Entry, Ledger, check_proof, make
from wattscale.ledger.canonical import audit_path, canonical, leaf_hash, merkle_root, node_hash, root_from_path
from wattscale.ledger.keys import Identity, Keystore


def order(site: Identity, oid: str, *, side="buy", q=1.0, p=40.0, interval="2023-07-01T00:00:00Z") -> dict:
    return {"id": oid, "participant": site.name, "interval": interval, "side": side, "quantity_mwh": q,
            "price_usd_per_mwh": p}


@pytest.fixture
def book(tmp_path):
    """A ledger with an operator, three sites and three blocks of orders and matches."""
    op = Identity.generate("operator")
    sites = [Identity.generate(f"site-{i}") for i in range(3)]
    led = Ledger.create(tmp_path / "ledger.sqlite", op, price_floor_usd_per_mwh=-100, price_cap_usd_per_mwh=1000)
    led.append([make("participant", {"name": s.name, "public_key": s.public_hex}, op, s) for s in sites], op)
    led.append([make("order", order(sites[0], "b1", p=55.0), sites[0]),
                make("order", order(sites[1], "s1", side="sell", p=30.0), sites[1]),
                make("order", order(sites[2], "b2", q=2.0, p=45.0), sites[2])], op)
    led.append([make("match", {"id": "m1", "interval": "2023-07-01T00:00:00Z", "buy_order": "b1", "sell_order": "s1",
                               "quantity_mwh": 1.0, "price_usd_per_mwh": 42.5}, op),
                make("settlement", {"id": "st1", "participant": "site-0", "period": "2023-07-01",
                                    "energy_mwh": 1.0, "amount_usd": -42.5}, sites[0], op)], op)
    yield led, op, sites
    led.close()


# ---------------------------------------------------------------- Merkle trees against RFC 6962 by hand
def test_merkle_root_matches_rfc6962_definition_and_proofs_hold_for_every_leaf():
    leaves = [leaf_hash(bytes([i])) for i in range(7)]
    h = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    # RFC 6962 2.1: MTH(D[7]) = H(MTH(D[0:4]) || MTH(D[4:7])), MTH(D[4:7]) = H(MTH(D[4:6]) || D[6])
    left = h(h(leaves[0], leaves[1]), h(leaves[2], leaves[3]))
    right = h(h(leaves[4], leaves[5]), leaves[6])
    assert merkle_root(leaves) == h(left, right)
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    for size in (1, 2, 3, 5, 8, 13):
        ls = [leaf_hash(bytes([k])) for k in range(size)]
        for i in range(size):
            path = audit_path(ls, i)
            assert root_from_path(ls[i], i, size, path) == merkle_root(ls)
            if path:
                assert root_from_path(ls[i], i, size, path[:-1]) != merkle_root(ls)
    assert node_hash(leaves[0], leaves[1]) != node_hash(leaves[1], leaves[0])


def test_canonical_json_is_key_order_free_and_refuses_nan():
    assert canonical({"b": 1, "a": [1.5, "é"]}) == canonical({"a": [1.5, "é"], "b": 1}) == \
        '{"a":[1.5,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


# ---------------------------------------------------------------- a sound ledger
def test_sound_ledger_verifies_and_proofs_check_with_public_keys_only(book, tmp_path):
    led, op, _sites = book
    rep = led.verify()
    assert rep.ok, rep.problem
    assert (rep.blocks, rep.entries) == (4, 9)
    assert led.verify(head_hash=led.head_hash).ok
    for key in ("b1", "m1", "st1", "0"):
        proof = json.loads(json.dumps(led.prove(key)))  # as a file would carry it
        assert check_proof(proof, operator_key=op.public_hex) == ""
    proof = led.prove("b2")
    forged = json.loads(json.dumps(proof))
    forged["entry"]["body"]["quantity_mwh"] = 20.0
    assert "signature" in check_proof(forged)
    other = Identity.generate("operator")
    assert "operator" in check_proof(proof, operator_key=other.public_hex)
    bad_path = json.loads(json.dumps(proof))
    bad_path["audit_path"][0] = "00" * 32
    assert "Merkle" in check_proof(bad_path)
    # reopened from disk, the same state
    led.close()
    again = Ledger.open(tmp_path / "ledger.sqlite")
    assert again.verify().ok and again.participants.keys() == {"operator", "site-0", "site-1", "site-2"}
    again.close()


# ---------------------------------------------------------------- tampering of every kind
def _tamper(led: Ledger, sql: str, *args) -> None:
    raw = sqlite3.connect(led.path)
    with raw:
        raw.execute(sql, args)
    raw.close()


def _record(led: Ledger, seq: int) -> dict:
    return json.loads(led.conn.execute("SELECT record FROM entries WHERE seq = ?", (seq,)).fetchone()[0])


def _set_record(led: Ledger, seq: int, rec: dict) -> None:
    _tamper(led, "UPDATE entries SET record = ? WHERE seq = ?", canonical(rec).decode(), seq)


def test_edited_body_is_found_at_that_entry(book):
    led, _op, _sites = book
    rec = _record(led, 5)
    rec["body"]["price_usd_per_mwh"] = 5.0  # site-1 offers cheaper after the fact
    _set_record(led, 5, rec)
    rep = led.verify()
    assert not rep.ok and rep.bad_seq == 5 and "signature of 'site-1'" in rep.problem


def test_deleted_entry_is_found(book):
    led, _op, _sites = book
    _tamper(led, "DELETE FROM entries WHERE seq = 6")
    rep = led.verify()
    assert not rep.ok and "entry 6 is missing" in rep.problem


def test_reordered_entries_are_found_both_ways(book):
    led, _op, _sites = book
    a, b = (led.conn.execute("SELECT record FROM entries WHERE seq = ?", (s,)).fetchone()[0] for s in (4, 5))
    _tamper(led, "UPDATE entries SET record = ? WHERE seq = 4", b)
    _tamper(led, "UPDATE entries SET record = ? WHERE seq = 5", a)
    rep = led.verify()
    assert not rep.ok and rep.bad_seq == 4


def test_reordered_rows_with_consistent_numbers_break_the_merkle_root(book):
    led, _op, _sites = book
    recs = {s: _record(led, s) for s in (4, 5)}
    recs[4]["seq"], recs[5]["seq"] = 5, 4
    for s, rec in recs.items():  # move whole rows: each record keeps its own signature, seq fields swapped
        _set_record(led, 9 - s, rec)
    cols = {s: led.conn.execute("SELECT kind, ref, party FROM entries WHERE seq = ?", (s,)).fetchone()
            for s in (4, 5)}
    for s in (4, 5):
        _tamper(led, "UPDATE entries SET ref = NULL WHERE seq = ?", s)
    for s in (4, 5):
        _tamper(led, "UPDATE entries SET kind = ?, ref = ?, party = ? WHERE seq = ?", *cols[9 - s], s)
    rep = led.verify()
    assert not rep.ok and rep.bad_height == 2 and "Merkle root" in rep.problem


def test_forged_signature_is_found(book):
    led, _op, _sites = book
    rec = _record(led, 6)
    mallory = Identity.generate("site-2")  # same name, another key
    rec["body"]["quantity_mwh"] = 0.5
    rec["signatures"] = {"site-2": mallory.sign(canonical({"kind": rec["kind"], "body": rec["body"]}))}
    _set_record(led, 6, rec)
    rep = led.verify()
    assert not rep.ok and rep.bad_seq == 6 and "signature of 'site-2'" in rep.problem


def test_inserted_entry_is_found(book):
    led, _op, sites = book
    extra = make("order", order(sites[0], "b9"), sites[0]).record(9)
    _tamper(led, "INSERT INTO entries VALUES (9, 3, 'order', 'b9', 'site-0', ?)", canonical(extra).decode())
    rep = led.verify()
    assert not rep.ok and rep.bad_height == 3


def test_rewritten_chain_without_the_operator_key_is_found(book):
    """Recompute every leaf, root and block hash after an edit: only the operator's signature stops it."""
    led, _op, _sites = book
    rec = _record(led, 7)
    rec["body"]["price_usd_per_mwh"] = 99.0
    _set_record(led, 7, rec)  # the match, signed by the operator
    prev = "0" * 64
    for (h,) in led.conn.execute("SELECT height FROM blocks ORDER BY height").fetchall():
        header = json.loads(led.conn.execute("SELECT header FROM blocks WHERE height = ?", (h,)).fetchone()[0])
        texts = [t for (t,) in led.conn.execute("SELECT record FROM entries WHERE height = ? ORDER BY seq", (h,))]
        header["prev_hash"] = prev
        header["merkle_root"] = merkle_root([leaf_hash(t.encode()) for t in texts]).hex()
        prev = hashlib.sha256(canonical(header)).hexdigest()
        _tamper(led, "UPDATE blocks SET header = ?, hash = ? WHERE height = ?", canonical(header).decode(), prev, h)
    rep = led.verify()
    assert not rep.ok and rep.bad_seq == 7 and "signature of 'operator'" in rep.problem


def test_edited_header_and_removed_block_are_found(book):
    led, _op, _sites = book
    head = led.head_hash
    header = json.loads(led.conn.execute("SELECT header FROM blocks WHERE height = 1").fetchone()[0])
    header["time"] = "2020-01-01T00:00:00.000+00:00"
    _tamper(led, "UPDATE blocks SET header = ? WHERE height = 1", canonical(header).decode())
    assert "header was changed" in led.verify().problem
    _tamper(led, "UPDATE blocks SET header = (SELECT header FROM blocks WHERE height = 0) WHERE height = 1")
    assert not led.verify().ok
    # truncation at the tail: only a known head reveals it
    _tamper(led, "DELETE FROM blocks WHERE height >= 1")
    _tamper(led, "DELETE FROM entries WHERE height >= 1")
    assert led.verify().ok
    rep = led.verify(head_hash=head)
    assert not rep.ok and "expected head" in rep.problem


# ---------------------------------------------------------------- refusals lose nothing
@pytest.mark.parametrize("case", ["unsigned", "wrong_key", "unknown", "negative", "zero", "above_cap",
                                  "below_floor", "nan", "duplicate_id", "bad_side", "match_unknown_order",
                                  "not_a_party"])
def test_bad_orders_are_refused_with_a_reason_and_nothing_is_lost(book, case):
    led, op, sites = book
    before = (led.height, led.head_hash, led.verify().entries)
    stranger = Identity.generate("site-9")
    good = make("order", order(sites[0], "ok1"), sites[0])
    bad, reason = {
        "unsigned": lambda: (make("order", order(sites[1], "x")), "not signed by 'site-1'"),
        "wrong_key": lambda: (make("order", order(sites[1], "x"), Identity.generate("site-1")), "signature of 'site-1'"),
        "unknown": lambda: (make("order", order(stranger, "x"), stranger), "unknown participant 'site-9'"),
        "negative": lambda: (make("order", order(sites[1], "x", q=-1.0), sites[1]), "not positive"),
        "zero": lambda: (make("order", order(sites[1], "x", q=0.0), sites[1]), "not positive"),
        "above_cap": lambda: (make("order", order(sites[1], "x", p=1000.01), sites[1]), "outside the market's bounds"),
        "below_floor": lambda: (make("order", order(sites[1], "x", p=-101.0), sites[1]), "outside the market's bounds"),
        "nan": lambda: (Entry("order", order(sites[1], "x", q=float("nan")), {"site-1": "00" * 64}),
                        "not canonical JSON"),
        "duplicate_id": lambda: (make("order", order(sites[1], "b1"), sites[1]), "id 'b1' is already used"),
        "bad_side": lambda: (make("order", order(sites[1], "x", side="hold"), sites[1]), "neither 'buy' nor 'sell'"),
        "match_unknown_order": lambda: (make("match", {"id": "m9", "interval": "2023-07-01T00:00:00Z", "buy_order": "nope",
                                               "sell_order": "s1", "quantity_mwh": 1.0,
                                               "price_usd_per_mwh": 40.0}, op), "buy order 'nope'"),
        "not_a_party": lambda: (make("order", order(sites[1], "x"), sites[1], sites[2]), "not a party"),
    }[case]()
    with pytest.raises(LedgerError) as err:
        led.append([good, bad], op)
    msg = str(err.value)
    assert reason in msg and "entries[1]" in msg and "nothing was written" in msg and str(led.path) in msg
    assert (led.height, led.head_hash, led.verify().entries) == before
    reopened = Ledger.open(led.path)
    assert reopened.verify().ok and reopened.height == before[0]
    reopened.close()
    led.append([good], op)  # the good order alone is taken
    assert led.verify().ok


def test_only_the_operator_appends(book):
    led, _op, sites = book
    with pytest.raises(LedgerError, match="not this ledger's operator"):
        led.append([make("order", order(sites[0], "x"), sites[0])], sites[0])


def test_files_that_are_not_ledgers_are_refused_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    other = tmp_path / "other.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    before = {p: p.read_bytes() for p in (text, other)}
    for path, why in ((text, "not an SQLite file"), (other, "no such table: meta"),
                      (tmp_path / "missing.sqlite", "no such ledger file")):
        with pytest.raises(LedgerError, match=why) as err:
            Ledger.open(path)
        assert str(path) in str(err.value)
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "other.sqlite-wal").exists()
    with pytest.raises(LedgerError, match="already there"):
        Ledger.create(text, Identity.generate("op"))
    with pytest.raises(LedgerError, match="price bounds"):
        Ledger.create(tmp_path / "new.sqlite", Identity.generate("op"), price_floor_usd_per_mwh=10,
                      price_cap_usd_per_mwh=5)


def test_keystore_round_trip_and_bad_key_file(tmp_path):
    ks = Keystore(tmp_path / "keys")
    a = ks.create("site-a")
    assert ks.load("site-a").public_hex == a.public_hex
    assert oct((tmp_path / "keys" / "site-a.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    assert Identity("x", a.key).private_pem() == (tmp_path / "keys" / "site-a.pem").read_bytes()
    (tmp_path / "keys" / "site-b.pem").write_text("garbage")
    with pytest.raises(LedgerError, match="not a private key"):
        ks.load("site-b")
    with pytest.raises(LedgerError, match="not allowed"):
        ks.create("../escape")


# ---------------------------------------------------------------- the file alone holds every entry
def test_close_checkpoints_so_deleting_wal_and_shm_loses_nothing(tmp_path):
    """A reader holds the file while the writer appends and closes; then the -wal and -shm files are deleted."""
    op, site = Identity.generate("operator"), Identity.generate("site-0")
    path = tmp_path / "ledger.sqlite"
    led = Ledger.create(path, op)
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)
    led.append([make("participant", {"name": "site-0", "public_key": site.public_hex}, op, site)], op)
    for k in range(20):
        led.append([make("order", order(site, f"o{k}-{j}", side="sell"), site) for j in range(10)], op)
    head = led.head_hash
    led.checkpoint_wal()
    led.close()
    for side in ("-wal", "-shm"):
        (tmp_path / f"ledger.sqlite{side}").unlink(missing_ok=True)
    copy = tmp_path / "copy.sqlite"  # what a results folder gets, taken while the reader still holds the file
    copy.write_bytes(path.read_bytes())
    reader.close()
    again = Ledger.open(copy, write=False)
    rep = again.verify(head_hash=head)
    again.close()
    assert rep.ok and rep.entries == 202, rep.problem


def test_a_read_only_open_changes_nothing_and_a_closed_ledger_is_one_file(book, tmp_path):
    led, op, _sites = book
    led.close()
    path = tmp_path / "ledger.sqlite"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite"]  # no -wal or -shm left
    before = path.read_bytes()
    with Ledger.open(path, write=False) as ro:
        assert ro.verify(anchors=Anchors(op.public_hex)).anchored
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.conn.execute("DELETE FROM entries")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite"]


def test_checkpoint_and_trust_documents_pin_the_ledger(book):
    led, op, sites = book
    cp, trust = led.checkpoint(op), led.trust()
    assert (cp["height"], cp["blocks"], cp["entries"], cp["head_hash"]) == (3, 4, 9, led.head_hash)
    assert trust["operator_key"] == op.public_hex and trust["participants"] == {s.name: s.public_hex for s in sites}
    with pytest.raises(LedgerError, match="not this ledger's operator"):
        led.checkpoint(sites[0])


# ---------------------------------------------------------------- SIGKILL during an append
CHILD = textwrap.dedent("""
    import os, sys, time
    import wattscale.decisions.market.entries  # the market's kinds of entry
    from wattscale.ledger.keys import Keystore
    from wattscale.ledger.book import Ledger, make
    path, keys, mode = sys.argv[1], Keystore(sys.argv[2]), sys.argv[3]
    led = Ledger.open(path)
    op, site = keys.load("operator"), keys.load("site-0")
    if mode == "pause":  # stop inside the block's transaction, after its entries are written
        def trace(sql):
            if sql.startswith("INSERT INTO blocks"):
                os.write(1, b"inside\\n")
                time.sleep(60)
        led.conn.set_trace_callback(trace)
    os.write(1, b"ready\\n")
    k = 0
    while True:
        led.append([make("order", {"id": f"k{k}-{j}", "participant": "site-0", "interval": "2023-07-01T00:00:00Z",
                                   "side": "sell", "quantity_mwh": 1.0, "price_usd_per_mwh": 10.0}, site)
                    for j in range(500)], op)
        k += 1
""")


def _ledger_with_keys(tmp_path):
    ks = Keystore(tmp_path / "keys")
    op, site = ks.create("operator"), ks.create("site-0")
    led = Ledger.create(tmp_path / "ledger.sqlite", op)
    led.append([make("participant", {"name": "site-0", "public_key": site.public_hex}, op, site)], op)
    return led, op, site


def _child(tmp_path, mode):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "ledger.sqlite"), str(tmp_path / "keys"),
                             mode], stdout=subprocess.PIPE)


def test_sigkill_inside_the_block_transaction_leaves_the_previous_ledger(tmp_path):
    led, op, site = _ledger_with_keys(tmp_path)
    head, height = led.head_hash, led.height
    led.close()
    child = _child(tmp_path, "pause")
    assert child.stdout.readline() == b"ready\n"
    assert child.stdout.readline() == b"inside\n"  # 500 entries written, the block row being inserted
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    led = Ledger.open(tmp_path / "ledger.sqlite")
    rep = led.verify(head_hash=head)
    assert rep.ok, rep.problem
    assert led.height == height and rep.entries == 2
    assert led.conn.execute("SELECT COUNT(*) FROM entries WHERE ref LIKE 'k%'").fetchone()[0] == 0
    led.append([make("order", order(site, "after", side="sell"), site)], op)  # and it goes on
    assert led.verify().ok
    led.close()


@pytest.mark.parametrize("delay_s", [0.35, 0.8, 1.3])
def test_sigkill_at_a_random_moment_leaves_whole_blocks_only(tmp_path, delay_s):
    import time

    led, _op, _site = _ledger_with_keys(tmp_path)
    led.close()
    child = _child(tmp_path, "run")
    assert child.stdout.readline() == b"ready\n"
    time.sleep(delay_s)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    led = Ledger.open(tmp_path / "ledger.sqlite")
    rep = led.verify()
    assert rep.ok, rep.problem
    assert (rep.entries - 2) % 500 == 0  # whole blocks of 500 orders, never part of one
    led.close()


def test_a_ledger_holding_only_its_genesis_takes_entries_after_reopening(tmp_path):
    """The genesis entry is seq 0: reopened, the next entry is seq 1 (0 is not 'no entries')."""
    from wattscale.ledger.book import Ledger, make
    from wattscale.ledger.keys import Identity

    op = Identity.generate("op")
    Ledger.create(tmp_path / "l.sqlite", op).close()
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        assert ledger.next_seq == 1
        ledger.append([make("participant", {"name": "a", "public_key": (a := Identity.generate("a")).public_hex},
                            op, a)], op)
        assert ledger.verify().ok
