"""``python -m cloudsim --port 9100 [--snapshot FILE] [--regions ...] [--provision-seconds N]``."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys

from .server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, CloudSim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cloudsim",
                                     description="A simulated Apsara Stack region speaking the Alibaba Cloud OpenAPI.")
    parser.add_argument("--host", default=os.environ.get("CLOUDSIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLOUDSIM_PORT", "9100")))
    parser.add_argument("--snapshot", default=os.environ.get("CLOUDSIM_SNAPSHOT"),
                        help="JSON file: loaded at start, written on change and at exit")
    parser.add_argument("--regions", default=os.environ.get("CLOUDSIM_REGIONS", "cn-hangzhou,cn-shanghai"),
                        help="comma-separated region ids; each gets zones <region>-a, -b and -c")
    parser.add_argument("--provision-seconds", type=float,
                        default=float(os.environ.get("CLOUDSIM_PROVISION_SECONDS", "2")),
                        help="length of each asynchronous step (Pending, Starting, Stopping...)")
    parser.add_argument("--access-key-id", default=os.environ.get("CLOUDSIM_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID))
    parser.add_argument("--access-key-secret",
                        default=os.environ.get("CLOUDSIM_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CLOUDSIM_SEED", "1")),
                        help="fixes metric series and fault dice")
    parser.add_argument("--allow-remote-control", action="store_true",
                        help="answer the /_cloudsim/ control endpoint for non-loopback clients too")
    parser.add_argument("--no-strict", action="store_true",
                        help="accept unsigned x-acs-* headers and Apsara Stack calls without organization headers")
    parser.add_argument("--oss-cluster", action="append", default=[], metavar="REGION=CLUSTER",
                        help="the OSS cluster (bucket location) of a region, e.g. cn-hangzhou=oss-cn-hangzhou-a")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--tls-key", help="... and this key")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="cloudsim: %(message)s")
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    clusters = dict(c.split("=", 1) for c in args.oss_cluster if "=" in c)
    sim = CloudSim(host=args.host, port=args.port, regions=regions, provision_seconds=args.provision_seconds,
                   credentials={args.access_key_id: args.access_key_secret}, snapshot_path=args.snapshot,
                   seed=args.seed, allow_remote_control=args.allow_remote_control, strict=not args.no_strict,
                   oss_clusters=clusters, tls=(args.tls_cert, args.tls_key) if args.tls_cert else None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    gc.freeze()
    logging.getLogger("cloudsim").info("listening on http://%s (regions %s, AccessKey id %s)", sim.endpoint,
                                       ",".join(regions), args.access_key_id)
    try:
        sim.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
