"""Tiny probe servers and clients for the kernel check (standard library only).

:mod:`netlab.linux` starts one server in every pod, node and host namespace it
creates, and runs clients in the namespaces flows start from. Both are this file, run
by path with ``ip netns exec <netns> python3 -I .../netlab/linux/probe.py ...`` so that a probe
never imports netlab (fast start, nothing but the standard library).

* ``serve --tcp 80 --udp 53 --name pod:default/web-0 --seconds 60``: answers every TCP
  connection and every UDP datagram with one line
  ``<name> <local ip>:<local port> <peer ip>:<peer port>``: who answered, on which
  address (after any DNAT), and the source address it saw (after any SNAT). It prints
  ``ready`` once every socket is bound and exits after ``--seconds``.
* ``serve-many --seconds 60`` with a JSON list ``[{"netns": "/run/netns/...", "name": ...,
  "tcp": [...], "udp": [...]}]`` on stdin: the same, for many namespaces from one process
  (it binds each namespace's sockets inside that namespace, see :func:`serve_many`).
* ``connect --to 10.0.0.12 --port 80 [--udp] [--timeout 1] [--sport 20001]``: one
  probe; prints one JSON object (see :func:`probe_once`).
* ``batch``: reads one JSON probe per line on stdin, runs them all at once (each with
  its own timeout) and prints one JSON result per line, in input order.

A result's ``status`` is ``answered``, ``refused`` (a TCP reset or an ICMP port
unreachable came back: kube-proxy's REJECT), ``timeout`` (nothing came back: a DROP,
a blackhole on the way, or a lost reply), ``unreachable`` (the source's own kernel
had no route, or an ICMP host/net unreachable came back) or ``error``.

Every loop is bounded: servers by ``--seconds`` (at most 3600), clients by their
timeouts (at most 30 s each, 2,000 probes per batch).

Example:
    >>> answer_line("pod:default/web-0", ("10.244.0.2", 8080), ("10.244.1.5", 20001))
    'pod:default/web-0 10.244.0.2:8080 10.244.1.5:20001\\n'
    >>> parse_answer('pod:default/web-0 10.244.0.2:8080 10.244.1.5:20001\\n')
    {'name': 'pod:default/web-0', 'local': ['10.244.0.2', 8080], 'peer': ['10.244.1.5', 20001]}
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import struct
import sys
import time

MAX_SECONDS = 3600
MAX_TIMEOUT = 30.0
MAX_BATCH = 2000
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def answer_line(name: str, local: tuple[str, int], peer: tuple[str, int]) -> str:
    """The line a server sends back: who answered, where, and whom it saw."""
    return f"{name} {local[0]}:{local[1]} {peer[0]}:{peer[1]}\n"


def parse_answer(text: str) -> dict | None:
    """``answer_line`` read back, or ``None`` if ``text`` is not one."""
    parts = text.strip().split()
    if len(parts) != 3:
        return None
    out: dict = {"name": parts[0]}
    for key, part in (("local", parts[1]), ("peer", parts[2])):
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            return None
        out[key] = [host, int(port)]
    return out


# --------------------------------------------------------------------------- server
_CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    """Move this (single-threaded) process into the network namespace at ``path``."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _listen(sel: selectors.BaseSelector, name: str, tcp: list[int], udp: list[int]) -> list[socket.socket]:
    """Bind the ports in the current network namespace (a socket stays in the one it was made in)."""
    socks = []
    for port in tcp:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("tcp", name))
        socks.append(s)
    for port in udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", name))
        socks.append(s)
    return socks


def serve(name: str, tcp: list[int], udp: list[int], seconds: float, out=sys.stdout) -> int:
    """Answer on every port until ``seconds`` have passed; return the number of answers."""
    sel = selectors.DefaultSelector()
    return _serve(sel, _listen(sel, name, tcp, udp), seconds, out)


def serve_many(spec: list[dict], seconds: float, out=sys.stdout) -> int:
    """One process for many namespaces: ``spec`` lists ``{"netns": path, "name", "tcp", "udp"}``.

    The process enters each namespace (``setns``), binds that namespace's sockets there,
    and comes back to the namespace it started in before serving them all. Started in a
    namespace of the run (never the host's), so a failure can bind nothing on the host.
    """
    import os

    home = f"/proc/{os.getpid()}/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    try:
        for entry in spec:
            _setns(entry["netns"])
            socks += _listen(sel, entry["name"], list(entry.get("tcp", ())), list(entry.get("udp", ())))
    finally:
        import ctypes

        ctypes.CDLL(None, use_errno=True).setns(home_fd, _CLONE_NEWNET)
        os.close(home_fd)
    return _serve(sel, socks, seconds, out)


def _serve(sel: selectors.BaseSelector, socks: list[socket.socket], seconds: float, out) -> int:
    seconds = max(0.0, min(float(seconds), MAX_SECONDS))
    out.write("ready\n")
    out.flush()
    deadline = time.monotonic() + seconds
    answered = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(timeout=min(left, 1.0)):
                s = key.fileobj
                kind, name = key.data
                try:
                    if kind == "tcp":
                        conn, peer = s.accept()
                        with conn:
                            conn.settimeout(1.0)
                            conn.sendall(answer_line(name, conn.getsockname(), peer).encode())
                    else:
                        _data, anc, _, peer = s.recvmsg(2048, socket.CMSG_SPACE(12))
                        local_ip = "0.0.0.0"
                        pktinfo = b""
                        for level, kind, value in anc:
                            if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(value) >= 12:
                                # struct in_pktinfo {int ifindex; in_addr spec_dst; in_addr addr;}
                                local_ip = socket.inet_ntoa(value[8:12])
                                pktinfo = struct.pack("=i4s4s", 0, value[8:12], b"\0" * 4)
                        line = answer_line(name, (local_ip, s.getsockname()[1]), peer).encode()
                        # Answer from the address the datagram was sent to (after DNAT), so
                        # conntrack can match the reply and undo the translation.
                        anc_out = [(socket.IPPROTO_IP, _IP_PKTINFO, pktinfo)] if pktinfo else []
                        s.sendmsg([line], anc_out, 0, peer)
                    answered += 1
                except OSError:
                    continue  # a client that went away does not stop the server
    finally:
        for s in socks:
            s.close()
        sel.close()
    return answered


# --------------------------------------------------------------------------- client
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EINVAL, errno.EACCES, errno.EPERM,
                errno.EADDRNOTAVAIL}


def _status_for(err: OSError) -> str:
    if err.errno == errno.ECONNREFUSED:
        return "refused"
    if err.errno in (errno.ETIMEDOUT,):
        return "timeout"
    if err.errno in _UNREACHABLE:
        return "unreachable"
    return "error"


def _result(probe: dict, status: str, started: float, answer: dict | None = None, detail: str = "") -> dict:
    return {"id": probe.get("id"), "status": status, "answer": answer, "detail": detail,
            "elapsed": round(time.monotonic() - started, 4)}


class _Probe:
    """One client connection driven by the batch's selector."""

    def __init__(self, probe: dict, sel: selectors.BaseSelector) -> None:
        self.probe = probe
        self.started = time.monotonic()
        self.deadline = self.started + max(0.05, min(float(probe.get("timeout", 1.0)), MAX_TIMEOUT))
        self.udp = str(probe.get("proto", "tcp")).lower() == "udp"
        self.buf = b""
        self.result: dict | None = None
        self.local_drop = False
        self.sel = sel
        kind = socket.SOCK_DGRAM if self.udp else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setblocking(False)
        try:
            if self.udp:
                self.sock.setsockopt(socket.SOL_IP, getattr(socket, "IP_RECVERR", 11), 1)
            if probe.get("sport"):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.sock.bind(("0.0.0.0", int(probe["sport"])))
            target = (str(probe["to"]), int(probe["port"]))
            if self.udp:
                self.sock.connect(target)
                try:
                    self.sock.send(b"netlab probe\n")
                except PermissionError:
                    # The sender's own firewall dropped it (kube-proxy's REJECT in OUTPUT
                    # returns EPERM): wait for the ICMP error a REJECT also sends back.
                    self.local_drop = True
                sel.register(self.sock, selectors.EVENT_READ, self)
            else:
                rc = self.sock.connect_ex(target)
                if rc not in (0, errno.EINPROGRESS):
                    raise OSError(rc, errno.errorcode.get(rc, str(rc)))
                sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)
        except OSError as err:
            self.finish(_status_for(err), detail=f"{errno.errorcode.get(err.errno, err.errno)}: {err.strerror}")

    def finish(self, status: str, answer: dict | None = None, detail: str = "") -> None:
        if self.result is not None:
            return
        self.result = _result(self.probe, status, self.started, answer, detail)
        try:
            self.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()

    def ready(self, events: int) -> None:
        try:
            if self.udp:
                data = self.sock.recv(2048)
                self.finish("answered", parse_answer(data.decode(errors="replace")), data.decode(errors="replace").strip())
                return
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, errno.errorcode.get(err, str(err)))
            if events & selectors.EVENT_WRITE:
                self.sel.modify(self.sock, selectors.EVENT_READ, self)
            if events & selectors.EVENT_READ:
                chunk = self.sock.recv(2048)
                self.buf += chunk
                if not chunk or self.buf.endswith(b"\n"):
                    text = self.buf.decode(errors="replace")
                    answer = parse_answer(text)
                    self.finish("answered" if answer else "error", answer, text.strip())
        except BlockingIOError:
            return
        except OSError as err:
            self.finish(_status_for(err), detail=f"{errno.errorcode.get(err.errno, err.errno)}: {err.strerror}")


def run_batch(probes: list[dict]) -> list[dict]:
    """Run every probe at once; return their results in input order."""
    if len(probes) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} probes per batch, not {len(probes)}")
    sel = selectors.DefaultSelector()
    running = [_Probe(p, sel) for p in probes]
    try:
        while any(p.result is None for p in running):
            now = time.monotonic()
            for p in running:
                if p.result is None and now >= p.deadline:
                    why = " (the sending host's own firewall dropped it: EPERM)" if p.local_drop else ""
                    p.finish("timeout", detail=f"no answer within {p.deadline - p.started:.2f} s{why}")
            pending = [p for p in running if p.result is None]
            if not pending:
                break
            wait = max(0.0, min(p.deadline for p in pending) - now)
            for key, events in sel.select(timeout=min(wait, 0.5)):
                key.data.ready(events)
    finally:
        sel.close()
    return [p.result for p in running]  # type: ignore[misc]


def probe_once(to: str, port: int, udp: bool = False, timeout: float = 1.0, sport: int | None = None) -> dict:
    """One probe: ``{"status": ..., "answer": {"name", "local", "peer"} or None, "detail", "elapsed"}``."""
    return run_batch([{"id": 0, "to": to, "port": port, "proto": "udp" if udp else "tcp",
                       "timeout": timeout, "sport": sport}])[0]


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="netlab.linux.probe", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="answer TCP connections and UDP datagrams")
    s.add_argument("--name", required=True)
    s.add_argument("--tcp", type=int, action="append", default=[])
    s.add_argument("--udp", type=int, action="append", default=[])
    s.add_argument("--port", type=int, action="append", default=[], help="same as --tcp")
    s.add_argument("--seconds", type=float, default=60.0)
    m = sub.add_parser("serve-many", help="one server for many namespaces (JSON spec on stdin)")
    m.add_argument("--seconds", type=float, default=60.0)
    c = sub.add_parser("connect", help="one probe")
    c.add_argument("--to", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--udp", action="store_true")
    c.add_argument("--timeout", type=float, default=1.0)
    c.add_argument("--sport", type=int, default=None)
    sub.add_parser("batch", help="JSON probes on stdin, JSON results on stdout")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args.name, sorted(set(args.tcp + args.port)), sorted(set(args.udp)), args.seconds)
        return 0
    if args.cmd == "serve-many":
        spec = json.loads(sys.stdin.readline())
        sys.stdin.close()
        serve_many(spec, args.seconds)
        return 0
    if args.cmd == "connect":
        print(json.dumps(probe_once(args.to, args.port, args.udp, args.timeout, args.sport)))
        return 0
    probes = [json.loads(line) for line in sys.stdin if line.strip()]
    for result in run_batch(probes):
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
