"""``wattscale ledger verify|show|prove|check``: the signed settlement ledger, checked against keys you trust."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich.markup import escape

from wattscale.cli.common import WIDE, console, df_table, fail
from wattscale.decisions.market import demand_response, entries  # noqa: F401 - the kinds of entry of a ledger
from wattscale.errors import WattscaleError

app = typer.Typer(help="The signed settlement ledger: verify every signature and link against the keys you "
                       "trust, show entries, and prove an entry's inclusion.\n\nExample: wattscale ledger "
                       "verify out/market/ledger.sqlite --trust trust.json --checkpoint checkpoint.json",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
LEDGER = typer.Argument(..., help="ledger file (ledger.sqlite in a 'wattscale market' folder)", show_default=False)


def _open(path: Path):
    from wattscale.ledger.book import Ledger
    return Ledger.open(path, write=False)


OPERATOR_KEY = typer.Option(None, "--operator-key", help="the operator's public key (64 hex digits) or fingerprint "
                                                         "(sha256:...), as published by the operator out of band")
TRUST = typer.Option(None, "--trust", help="a trust.json you keep: the operator's and participants' public keys")


@app.command()
def verify(ledger: Path = LEDGER, operator_key: str = OPERATOR_KEY, trust: Path = TRUST,
           checkpoint: Path = typer.Option(None, "--checkpoint", help="a checkpoint.json you keep: the head signed "
                                           "by the operator (reveals a rewritten chain and blocks cut from the end)"),
           head: str = typer.Option(None, help="a head hash you kept (reveals blocks cut from the end)")) -> None:
    """Check the file, every signature, hash link and Merkle root, and the chain against the keys and checkpoint
    you trust; name the first bad entry. Exit code 0: verified and anchored; 1: tampered; 2: not a ledger or bad
    input; 3: internally consistent but NOT anchored (no --operator-key, --trust, --checkpoint or --head)."""
    from wattscale.ledger.anchors import anchors_from

    try:
        anchors = anchors_from(operator_key=operator_key, trust_file=trust, checkpoint_file=checkpoint,
                               head_hash=head)
        with _open(ledger) as led:
            rep = led.verify(anchors=anchors)
    except WattscaleError as exc:
        fail(exc)
    if not rep.ok:
        held = f" (the {rep.entries:,} entries before it hold)" if rep.entries else ""
        console.print(f"[bold red]tampered[/]: {escape(rep.problem)}{held}", soft_wrap=True)
        raise typer.Exit(code=1)
    if not rep.anchored:
        console.print(f"[bold yellow]NOT anchored[/]: internally consistent ({rep.entries:,} entries in "
                      f"{rep.blocks:,} blocks agree with the keys the file holds), but anyone who can write the file "
                      "can rebuild it with a new key; pass --operator-key, --trust or --checkpoint (published by "
                      "the operator, kept by you)", soft_wrap=True)
        raise typer.Exit(code=3)
    console.print(f"[green]ok[/]: {rep.entries:,} entries in {rep.blocks:,} blocks; every signature, link and "
                  f"Merkle root holds; checked against {escape('; '.join(rep.anchors))}; head {rep.head_hash}",
                  soft_wrap=True)
    for note in rep.unchecked:
        console.print(f"[yellow]not checked[/]: {escape(note)}", soft_wrap=True)


@app.command()
def show(ledger: Path = LEDGER, kind: str = typer.Option(None, help="only this kind: participant, order, match, "
                                                                      "settlement"),
         limit: int = typer.Option(30, help="at most this many entries"), wide: bool = WIDE) -> None:
    """List the ledger's entries (as stored: run 'verify' to know they hold)."""
    import pandas as pd

    from wattscale.errors import LedgerError
    from wattscale.ledger.verify import MALFORMED

    try:
        with _open(ledger) as led:
            rows = []
            for seq, text in led.records():
                rec = json.loads(text)
                if kind and rec["kind"] != kind:
                    continue
                b = rec["body"]
                rows.append({"seq": seq, "kind": rec["kind"], "id": b.get("id", b.get("name", b.get("operator"))),
                             **({"who": b.get("participant", b.get("buy_order", ""))} if wide else {}),
                             "MWh": b.get("quantity_mwh", b.get("energy_mwh")),
                             "USD/MWh or USD": b.get("price_usd_per_mwh", b.get("amount_usd")),
                             **({"signed by": ", ".join(sorted(rec["signatures"]))} if wide
                                else {"signed": len(rec["signatures"])})})
                if len(rows) >= limit:
                    break
    except WattscaleError as exc:
        fail(exc)
    except MALFORMED as exc:
        fail(LedgerError(f"cannot read the entries, the ledger is malformed ({exc.__class__.__name__}); run "
                         "'wattscale ledger verify'", file=str(ledger)))
    console.print(df_table(f"{ledger}", pd.DataFrame(rows), caption=None if wide else "--wide: who, and who signed"))


@app.command()
def prove(ledger: Path = LEDGER, entry: str = typer.Argument(..., help="entry number or id (e.g. an order id)"),
          output: Path = typer.Option(None, "--output", "-o", help="write the proof to this file (a new file or "
                                      "a proof written earlier; default: print it)")) -> None:
    """An inclusion proof of ENTRY that anyone can check against the operator's public key ('wattscale ledger
    check')."""
    try:
        with _open(ledger) as led:
            proof = led.prove(entry)
        text = json.dumps(proof, indent=2)
        if output:
            _write_proof(output, text)
    except WattscaleError as exc:
        fail(exc)
    if output:
        console.print(f"wrote {escape(str(output))}")
    else:
        console.print_json(text)


@app.command()
def check(proof_file: Path = typer.Argument(..., help="a proof from 'wattscale ledger prove'", show_default=False),
          operator_key: str = OPERATOR_KEY, trust: Path = TRUST) -> None:
    """Check an inclusion proof against the operator's public key you trust. Exit code 0: the entry is in a block
    signed by that key; 1: invalid; 2: unreadable input; 3: consistent with the keys the proof carries, but no
    --operator-key or --trust to anchor it (anyone can make such a proof)."""
    from wattscale.errors import LedgerError
    from wattscale.ledger.anchors import anchors_from
    from wattscale.ledger.book import check_proof

    try:
        proof = json.loads(proof_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        fail(LedgerError(f"cannot read the proof ({reason})", file=str(proof_file), expected="a JSON proof"))
    try:
        anchors = anchors_from(operator_key=operator_key, trust_file=trust)
    except WattscaleError as exc:
        fail(exc)
    problem = check_proof(proof, operator_key=anchors.operator, participants=anchors.participants)
    if problem:
        console.print(f"[bold red]invalid[/]: {escape(problem)}")
        raise typer.Exit(code=1)
    e = proof["entry"]
    where = f"entry {e.get('seq')} ({escape(str(e['kind']))}) is in block {proof['block_header'].get('height')}"
    if not anchors.operator:
        console.print(f"[bold yellow]NOT anchored[/]: {where} by the keys the proof itself carries, which anyone can "
                      "make; pass --operator-key or --trust to check it against the real operator", soft_wrap=True)
        raise typer.Exit(code=3)
    console.print(f"[green]ok[/]: {where}, signed by its parties and the pinned operator key")


def _write_proof(path: Path, text: str) -> None:
    """Write a new file, or replace a proof written earlier; never a folder, a link or anyone else's file."""
    import os

    from wattscale.errors import LedgerError

    if path.is_symlink() or (path.exists() and not path.is_file()):
        what = "a folder" if path.is_dir() and not path.is_symlink() else "not a regular file"
        raise LedgerError(f"the output path is {what}; it is left untouched", file=str(path),
                          expected="a file name for the proof")
    if path.exists() and not _is_proof(path):
        raise LedgerError("a file is already there and it is not a proof written by wattscale; it is left untouched",
                          file=str(path), expected="a new file name or an earlier proof")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise LedgerError(f"cannot write the proof ({exc.strerror or exc})", file=str(path),
                          expected="a writable place") from None


def _is_proof(path: Path) -> bool:
    try:
        if path.stat().st_size > 1 << 24:
            return False
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == "wattscale-ledger-proof"
