"""``k8s-netlab``: the course and netlab's traces from a terminal.

Commands (``k8s-netlab COMMAND --help`` for each)::

    k8s-netlab course [--dir DIR]                 copy the course to DIR and open JupyterLab there
    k8s-netlab course check | reset NN | link HUB  (python -m netlab.course: the same commands)
    k8s-netlab trace FILE --from A --to B [--port N]
    k8s-netlab run FILE "ip route" --on web-0
    k8s-netlab explain RULES.txt [--objects kubectl.json] [--trace SRC DST PORT]

``FILE`` is either manifests (the YAML of ``kubectl apply``, applied to a new AKS cluster of
``--plugin`` and ``--nodes``) or the JSON of ``kubectl get nodes,pods,services,endpointslices -A
-o json`` from a real cluster (its plugin comes from its nodes). ``RULES.txt`` is the output of
``iptables-save`` or ``nft list ruleset`` from a node.

Output is text, or JSON with ``--json``. Exit status: 0 the packet was delivered (or the command
printed what it was asked), 1 it was not delivered, 2 bad input (the error on stderr).

Example:
    >>> main(["trace", "--help"])  # doctest: +ELLIPSIS
    usage: k8s-netlab trace [-h] ...
    ...
    0
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import Any, Sequence

from .errors import NetlabError

EXIT_OK, EXIT_NOT_DELIVERED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised instead of ending the process (so :func:`main` returns 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise _Usage(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


class _Usage(Exception):
    pass


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="manifests (YAML or JSON) or `kubectl get nodes,pods,services,"
                                                "endpointslices -A -o json` output")
    p.add_argument("--plugin", help="for manifests: kubenet (default), azure-cni, azure-cni-overlay or none")
    p.add_argument("--nodes", type=int, help="for manifests: how many nodes (default 2)")
    p.add_argument("--proxy-mode", help="kube-proxy's mode: iptables (default), nftables, ipvs or userspace")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="k8s-netlab", description="See and try how Kubernetes and AKS networking works.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("course", add_help=False, help="the course: copy it out and open JupyterLab, reset a notebook, "
                   "check an environment, build a JupyterHub link (k8s-netlab course --help)")
    trace = sub.add_parser("trace", help="trace one packet and print its hops")
    _cluster_options(trace)
    trace.add_argument("--from", dest="source", required=True, metavar="SOURCE",
                       help="a pod's name (ns/name), a node, an address, internet")
    trace.add_argument("--to", dest="destination", required=True, metavar="DESTINATION",
                       help="a pod, a Service (ns/name), an address, internet")
    trace.add_argument("--port", type=int, help="the destination port (default: the Service's first port, or 80)")
    trace.add_argument("--protocol", default="tcp", help="tcp (default), udp or sctp")
    trace.add_argument("--rules", action="store_true", help="list every rule that matched at each hook")
    trace.add_argument("--reply", action="store_true", help="print the reply's hops too")
    trace.add_argument("--endpoint", help="the endpoint kube-proxy picks (ADDRESS:PORT or a pod's name), when a "
                                          "Service has several")
    trace.add_argument("--seed", type=int, default=0, help="another seed picks another endpoint (default 0)")
    run = sub.add_parser("run", help="print what a command prints on a node or in a pod")
    _cluster_options(run)
    run.add_argument("tool_command", metavar="COMMAND", help='such as "ip route" or "iptables-save"')
    run.add_argument("--on", help="a node (name or index) or a pod")
    explain = sub.add_parser("explain", help="explain a node's iptables-save or nft output, and trace through it")
    explain.add_argument("rules", metavar="RULES", help="a file holding iptables-save or nft list ruleset output")
    explain.add_argument("--objects", help="kubectl get svc,endpointslices -A -o json output, to name the "
                                           "Services behind kube-proxy's hashed chain names")
    explain.add_argument("--trace", nargs=3, metavar=("SRC", "DST", "PORT"), help="trace a packet through the rules")
    explain.add_argument("--protocol", default="tcp", help="for --trace: tcp (default), udp or sctp")
    explain.add_argument("--node-ip", action="append", default=[], help="an address of the node (for --trace)")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")
    return top


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise NetlabError(f"cannot read {path}: {err.strerror}; give the path of a file (or - for standard input)") \
            from None


def _is_kubectl_dump(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    items = data.get("items") if isinstance(data, dict) else None
    return isinstance(items, list) and any(isinstance(i, dict) and i.get("kind") == "Node" for i in items)


def load_cluster(path: str, plugin: str | None = None, nodes: int | None = None, proxy_mode: str | None = None):
    """The cluster a FILE describes: kubectl JSON as the real cluster is, manifests applied to a new one."""
    import netlab as nl

    text = _read(path)
    if _is_kubectl_dump(text):
        if plugin is not None or nodes is not None:
            raise NetlabError(f"{path} is a real cluster's objects: its plugin and nodes are its own; leave out "
                              "--plugin and --nodes")
        cluster = nl.Cluster.from_kubectl(text)
    else:
        if nodes is not None and nodes < 1:
            raise NetlabError(f"--nodes {nodes}: a cluster needs at least one node")
        cluster = nl.Cluster.aks(plugin or "kubenet", nodes=nodes or 2).apply(text if path == "-" else path)
    if proxy_mode:
        cluster = cluster.with_proxy_mode(proxy_mode)
    return cluster


def _trace(args: argparse.Namespace) -> int:
    cluster = load_cluster(args.file, args.plugin, args.nodes, args.proxy_mode)
    port = args.port
    if port is None:
        svc = cluster.find_service(*reversed(args.destination.split("/", 1))) if "/" in args.destination \
            else cluster.find_service(args.destination)
        port = svc.spec.ports[0].port if svc is not None else 80
    t = cluster.trace(args.source, args.destination, port=port, protocol=args.protocol, endpoint=args.endpoint,
                      seed=args.seed)
    if args.json:
        print(json.dumps(t.as_dict(), indent=1))
    else:
        print(_as_options(t.text(rules=args.rules)))
        if args.reply and t.reply is not None:
            print("\nthe reply:")
            print(_as_options(t.reply.text(rules=args.rules)))
    return EXIT_OK if t.delivered else EXIT_NOT_DELIVERED


#: The traces' hints name Python (a notebook's spelling); on the command line they name the options.
_OPTIONS = {
    "(the trace's .text(rules=True) lists them)": "(--rules lists them)",
    "hops: the trace's .reply shows them)": "hops: --reply shows them)",
    "(choose with endpoint=... or seed=...)": "(choose with --endpoint ADDRESS:PORT or --seed N)",
    "no node address given (node_ips=)": "no node address given (--node-ip)",
}


def _as_options(text: str) -> str:
    """``text`` with the Python hints spelled as options, also where folding split a hint over two lines."""
    def spelled(option: str, match: re.Match) -> str:
        if "\n" not in match.group(0):
            return option
        indent = match.group(0).rsplit("\n", 1)[1]
        indent = indent[: len(indent) - len(indent.lstrip())]
        return "\n" + indent + option  # the option starts the folded line, whole

    for python, option in _OPTIONS.items():
        folded = r"\s+".join(re.escape(word) for word in python.split())
        text = re.sub(folded, lambda m, o=option: spelled(o, m), text)
    return text


def _run(args: argparse.Namespace) -> int:
    cluster = load_cluster(args.file, args.plugin, args.nodes, args.proxy_mode)
    on = int(args.on) if args.on is not None and args.on.isdigit() else args.on  # "--on 0": node 0
    out = cluster.run(args.tool_command, on=on)
    print(json.dumps({"command": args.tool_command, "on": args.on, "output": str(out)}, indent=1)
          if args.json else out)
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from .kubeproxy import load_rules

    loaded = load_rules(_read(args.rules))
    objects = None
    if args.objects:
        try:
            objects = json.loads(_read(args.objects))
        except ValueError as err:
            raise NetlabError(f"--objects {args.objects}: not JSON ({err}); give the output of `kubectl get "
                              "svc,endpointslices -A -o json`") from None
        if isinstance(objects, dict) and isinstance(objects.get("items"), list):  # a fuller dump: keep what it needs
            objects = {**objects, "items": [i for i in objects["items"] if isinstance(i, dict)
                                            and i.get("kind") in ("Service", "EndpointSlice")]}
    table = loaded.explain(objects=objects) if objects is not None else loaded.explain()
    if args.trace is None:
        print(json.dumps({"explain": str(table)}, indent=1) if args.json else table)
        return EXIT_OK
    src, dst, port = args.trace
    try:
        port_number = int(port)
    except ValueError:
        raise NetlabError(f"--trace {src} {dst} {port}: the port is a number, such as 80") from None
    flow = loaded.trace(source=src, destination=dst, port=port_number, protocol=args.protocol,
                        node_ips=args.node_ip or None)
    if args.json:
        print(json.dumps({"explain": str(table), "trace": flow.text(), "verdict": str(flow.verdict),
                          "endpoints": list(flow.endpoints),
                          "not_modelled": [str(n) for n in flow.not_modelled]}, indent=1))
    else:
        print(table)
        print()
        print(_as_options(flow.text()))
    delivered = str(flow.verdict) in ("DNAT", "ACCEPT") and not flow.not_modelled
    return EXIT_OK if delivered else EXIT_NOT_DELIVERED


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (0 delivered, 1 not delivered, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["course"]:  # the same command as `python -m netlab.course`
        from .course.__main__ import main as course

        return course(argv[1:], prog="k8s-netlab course")
    try:
        args = parser().parse_args(argv)
        if args.command is None:
            parser().print_help(sys.stderr)
            return EXIT_BAD_INPUT
        return {"trace": _trace, "run": _run, "explain": _explain}[args.command](args)
    except _Exit as done:
        return done.status
    except _Usage as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    except NetlabError as err:
        print(f"k8s-netlab: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def console() -> Any:  # the console script's entry point
    sys.exit(main())



if __name__ == "__main__":
    console()
