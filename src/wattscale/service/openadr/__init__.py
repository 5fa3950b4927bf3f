"""OpenADR 3.0.1: the VTN the service mounts, and the campus-side VEN built on the toadr3 client."""
