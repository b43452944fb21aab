"""Command line: ``python -m smslib.sandbox [serve] [--port 8600] ...`` serves the sandbox until Ctrl-C.

(Demo data for the product's store is the product's command: ``python -m smslib seed-demo``.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .backend import ENDPOINTS, SandboxBackend, SandboxConfig
from .server import SandboxServer, build_server


def _shares(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError("use four comma-separated numbers, e.g. 0.9,0.04,0.03,0.03") from e


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _add_serve_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    """The serve options; without defaults (on the subcommand) so they don't override the top level's."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    defaults = SandboxConfig()
    add = parser.add_argument
    add("--host", default=default("127.0.0.1"), help="address to listen on (default: 127.0.0.1)")
    add("--port", type=int, default=default(8600), help="port to listen on, 0 for any free one (default: 8600)")
    add("--db", default=default(None), metavar="FILE",
        help="SQLite file keeping the state across restarts (default: in memory)")
    add("--log", default=default(None), metavar="FILE", help="append one JSON line per accepted message to FILE")
    add("--seed", default=default(None), help="seed for reproducible outcomes (default: random)")
    add("--time-scale", type=float, default=default(defaults.time_scale), metavar="F",
        help=f"multiply every simulated delay, e.g. 0.01 for 100x faster (default: {defaults.time_scale:g})")
    add("--shares", type=_shares, default=default(defaults.shares), metavar="S1,S-1,S-2,S-3",
        help="shares of statuses 1, -1, -2, -3 (default: 0.9,0.04,0.03,0.03)")
    add("--cost-centers", type=_names, default=default(defaults.cost_centers), metavar="A,B",
        help="the cost centres CostCenter may name (default: marketing,it,support)")
    add("--fail-rate", type=float, default=default(0.0), metavar="R", help="share of requests answered 503")
    add("--hang-rate", type=float, default=default(0.0), metavar="R",
        help="share of requests held --hang-seconds before being processed")
    add("--hang-after-accept-rate", type=float, default=default(0.0), metavar="R",
        help="share of requests processed, then held --hang-seconds before the answer")
    add("--hang-seconds", type=float, default=default(defaults.hang_seconds), metavar="S",
        help=f"how long a held request waits (default: {defaults.hang_seconds:g})")
    add("--rate-limit", type=float, default=default(0.0), metavar="N",
        help="most requests per second, beyond it 429 with Retry-After (default: no limit)")
    add("--fault-endpoints", type=_names, default=default(ENDPOINTS), metavar="A,B",
        help="endpoints the faults apply to (default: smses,simpleapi,reports)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``serve`` is the default command."""
    parser = argparse.ArgumentParser(prog="python -m smslib.sandbox",
                                     description="A local SMS gateway speaking the gateway API.")
    _add_serve_options(parser, with_defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the sandbox gateway until Ctrl-C (the default)")
    _add_serve_options(serve, with_defaults=False)
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The ``SandboxConfig`` the serve options describe; ValueError names a bad value."""
    return SandboxConfig(
        db_path=args.db or ":memory:", log_path=args.log, seed=args.seed, time_scale=args.time_scale,
        shares=args.shares, cost_centers=args.cost_centers, fail_rate=args.fail_rate, hang_rate=args.hang_rate,
        hang_after_accept_rate=args.hang_after_accept_rate, hang_seconds=args.hang_seconds,
        rate_limit=args.rate_limit, fault_endpoints=args.fault_endpoints)


def serve(config: SandboxConfig, *, host: str, port: int) -> None:
    """Serve in the foreground until Ctrl-C, printing the URL and credentials once listening."""

    def announce(server: SandboxServer) -> None:
        print(f"SMS sandbox gateway on http://{host}:{server.port}\n"
              f"  Basic Auth (/Smses, /DeliveryReports): {config.username} / {config.password}\n"
              f"  SimpleApi (UserEmail / Password):      {config.email} / {config.simple_password}\n"
              f"  state: {config.db_path}   Ctrl-C to stop", flush=True)

    with SandboxBackend(config) as backend:
        build_server(backend, host=host, port=port, on_started=announce).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as e:
        parser.error(str(e))
    serve(config, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
