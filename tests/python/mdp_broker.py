"""A minimal MDP/0.1 broker in plain pyzmq, frames built by hand from RFC 7 (echo routing only).

Used by tests/mdp_interop.rs to check that mdp's Worker and Client speak the wire protocol.
Binds tcp://127.0.0.1:* (or argv[1]), prints "ENDPOINT <ep>" on stdout, then routes client
requests to idle workers of the service, worker replies back to clients, heartbeats idle
workers and answers mmi.service. Prints "READY <service>" when a worker registers.
"""
import sys
import time
from collections import deque

import zmq

HEARTBEAT = float(sys.argv[2]) if len(sys.argv) > 2 else 0.25  # seconds
CLIENT, WORKER = b"MDPC01", b"MDPW01"
READY, REQUEST, REPLY, HB, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.linger = 0
deadline = time.monotonic() + 10
while True:  # a restarted broker may find its port still held for a moment
    try:
        sock.bind(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:*")
        break
    except zmq.ZMQError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
print("ENDPOINT", sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)

workers = {}  # worker identity -> service
idle = {}  # service -> deque of idle worker identities
pending = {}  # service -> deque of (client, body)
next_beat = time.monotonic() + HEARTBEAT


def dispatch(service):
    while idle.get(service) and pending.get(service):
        worker = idle[service].popleft()
        client, body = pending[service].popleft()
        sock.send_multipart([worker, b"", WORKER, REQUEST, client, b""] + body)


while True:
    if sock.poll(int(HEARTBEAT * 1000)):
        frames = sock.recv_multipart()
        if len(frames) < 4 or frames[1] != b"":
            continue
        sender, header = frames[0], frames[2]
        if header == CLIENT and len(frames) >= 4:
            service, body = frames[3], frames[4:]
            if service == b"mmi.service":
                found = b"200" if body and body[0] in workers.values() else b"404"
                sock.send_multipart([sender, b"", CLIENT, service, found])
                continue
            pending.setdefault(service, deque()).append((sender, body))
            dispatch(service)
        elif header == WORKER:
            command = frames[3]
            if command == READY and len(frames) == 5 and sender not in workers:
                workers[sender] = frames[4]
                idle.setdefault(frames[4], deque()).append(sender)
                print("READY", frames[4].decode(), flush=True)
                dispatch(frames[4])
            elif command == REPLY and sender in workers and len(frames) >= 7:
                client, service = frames[4], workers[sender]
                sock.send_multipart([client, b"", CLIENT, service] + frames[6:])
                idle[service].append(sender)
                dispatch(service)
            elif command == DISCONNECT and sender in workers:
                service = workers.pop(sender)
                if sender in idle[service]:
                    idle[service].remove(sender)
            elif command == HB and sender in workers:
                pass
            else:
                sock.send_multipart([sender, b"", WORKER, DISCONNECT])
    if time.monotonic() >= next_beat:
        for worker in workers:
            sock.send_multipart([worker, b"", WORKER, HB])
        next_beat = time.monotonic() + HEARTBEAT
