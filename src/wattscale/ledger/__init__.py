"""The signed settlement ledger: Ed25519-signed entries in blocks, a hash chain with a Merkle root per block, in
SQLite; verification against keys and a checkpoint kept outside the file; inclusion proofs."""
from wattscale.ledger.book import Entry, Ledger, check_proof, make, verify_file

__all__ = ["Entry", "Ledger", "check_proof", "make", "verify_file"]
