"""Strict MDP/0.2 (ZeroMQ RFC 18) peers in plain pyzmq, frames built by hand from the RFC's tables.

RFC 18 frames (no empty delimiter frame anywhere):
  client REQUEST  MDPC02, 0x01, service, body...     PARTIAL MDPC02, 0x02, service, body...
                                                      FINAL   MDPC02, 0x03, service, body...
  worker READY    MDPW02, 0x01, service               REQUEST MDPW02, 0x02, client, "", body...
         PARTIAL  MDPW02, 0x03, client, "", body...   FINAL   MDPW02, 0x04, client, "", body...
         HEARTBEAT MDPW02, 0x05                        DISCONNECT MDPW02, 0x06

Usage:
  mdp02_peers.py worker ENDPOINT SERVICE PARTIALS
      echo worker: answers each request with PARTIALS partial replies "part <k>" then a FINAL
      that echoes the body. Prints "READY" and "SERVED <n>".
  mdp02_peers.py client ENDPOINT SERVICE COUNT PARTIALS
      DEALER client: sends COUNT requests one at a time and checks that exactly PARTIALS
      PARTIAL replies then one FINAL echoing the body arrive. Prints "OK <i>" and "DONE"; exits 2
      on a timeout and 3 on a wrong frame.
  mdp02_peers.py broker ENDPOINT
      a minimal strict broker (one ROUTER): queues 0.2 client requests per service, hands them to
      0.2 workers one at a time, forwards PARTIAL and FINAL, answers HEARTBEAT, DISCONNECTs any
      message that is not RFC 18. Prints "ENDPOINT <endpoint>", "READY <service>" per worker and
      "INVALID" for anything it refused.
"""
import sys
import time
from collections import defaultdict, deque

import zmq

CLIENT, WORKER = b"MDPC02", b"MDPW02"
C_REQUEST, C_PARTIAL, C_FINAL = b"\x01", b"\x02", b"\x03"
W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HB, W_DISCONNECT = (
    b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06")
HEARTBEAT = 0.25
ctx = zmq.Context()


def worker(endpoint, service, partials):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    sock.send_multipart([WORKER, W_READY, service])
    print("READY", flush=True)
    served = 0
    next_beat = time.monotonic() + HEARTBEAT
    while True:
        if sock.poll(int(HEARTBEAT * 1000)):
            frames = sock.recv_multipart()
            if frames[:2] == [WORKER, W_REQUEST] and len(frames) >= 5 and frames[3] == b"":
                client, body = frames[2], frames[4:]
                for k in range(partials):
                    sock.send_multipart([WORKER, W_PARTIAL, client, b"", b"part %d" % k])
                sock.send_multipart([WORKER, W_FINAL, client, b""] + body)
                served += 1
                print("SERVED", served, flush=True)
            elif frames[:2] == [WORKER, W_DISCONNECT]:
                sock.close()
                return worker(endpoint, service, partials)
            elif frames[:2] != [WORKER, W_HB]:
                print("INVALID", frames[:3], flush=True)
        if time.monotonic() >= next_beat:
            sock.send_multipart([WORKER, W_HB])
            next_beat = time.monotonic() + HEARTBEAT


def client(endpoint, service, count, partials):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    for i in range(count):
        body = [b"hello %d" % i, bytes(range(256)), b""]
        sock.send_multipart([CLIENT, C_REQUEST, service] + body)
        expected = [[CLIENT, C_PARTIAL, service, b"part %d" % k] for k in range(partials)]
        expected.append([CLIENT, C_FINAL, service] + body)
        for want in expected:
            if not sock.poll(10000):
                print("TIMEOUT", i, flush=True)
                sys.exit(2)
            got = sock.recv_multipart()
            if got != want:
                print("WRONG", i, got[:4], "expected", want[:4], flush=True)
                sys.exit(3)
        print("OK", i, flush=True)
    print("DONE", flush=True)


def broker(endpoint):
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.bind(endpoint)
    print("ENDPOINT", sock.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    queues = defaultdict(deque)  # service -> deque of (client, body)
    idle = defaultdict(deque)  # service -> deque of worker ids
    services = {}  # worker id -> service
    busy = {}  # worker id -> client it serves

    def dispatch(service):
        while queues[service] and idle[service]:
            wid = idle[service].popleft()
            client_id, body = queues[service].popleft()
            busy[wid] = client_id
            sock.send_multipart([wid, WORKER, W_REQUEST, client_id, b""] + body)

    def refuse(sender):
        print("INVALID", flush=True)
        sock.send_multipart([sender, WORKER, W_DISCONNECT])

    next_beat = time.monotonic() + HEARTBEAT
    while True:
        if sock.poll(int(HEARTBEAT * 1000)):
            frames = sock.recv_multipart()
            sender, rest = frames[0], frames[1:]
            if rest[:2] == [CLIENT, C_REQUEST] and len(rest) >= 4:
                service = rest[2]
                queues[service].append((sender, rest[3:]))
                dispatch(service)
            elif rest[:2] == [WORKER, W_READY] and len(rest) == 3 and sender not in services:
                services[sender] = rest[2]
                idle[rest[2]].append(sender)
                print("READY", rest[2].decode(), flush=True)
                dispatch(rest[2])
            elif (rest[:2] in ([WORKER, W_PARTIAL], [WORKER, W_FINAL]) and len(rest) >= 5
                  and rest[3] == b"" and busy.get(sender) == rest[2]):
                service = services[sender]
                command = C_PARTIAL if rest[1] == W_PARTIAL else C_FINAL
                sock.send_multipart([rest[2], CLIENT, command, service] + rest[4:])
                if rest[1] == W_FINAL:
                    del busy[sender]
                    idle[service].append(sender)
                    dispatch(service)
            elif rest == [WORKER, W_HB] and sender in services:
                pass
            elif rest == [WORKER, W_DISCONNECT]:
                service = services.pop(sender, None)
                if service is not None and sender in idle[service]:
                    idle[service].remove(sender)
            else:
                refuse(sender)
        if time.monotonic() >= next_beat:
            for wid in services:
                sock.send_multipart([wid, WORKER, W_HB])
            next_beat = time.monotonic() + HEARTBEAT


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "worker":
        worker(sys.argv[2], sys.argv[3].encode(), int(sys.argv[4]))
    elif mode == "client":
        client(sys.argv[2], sys.argv[3].encode(), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "broker":
        broker(sys.argv[2])
    else:
        sys.exit("unknown mode " + mode)
