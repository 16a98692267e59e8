"""The `laino` command."""

import os

# gRPC's core logs a failed TLS handshake at INFO on stderr, above the one line laino prints.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
