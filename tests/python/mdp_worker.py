"""An MDP/0.1 echo worker in plain pyzmq, frames built by hand from RFC 7.

Usage: mdp_worker.py ENDPOINT SERVICE [HEARTBEAT_SECONDS]
Sends READY, heartbeats, echoes every request body, re-registers on DISCONNECT. Prints
"READY" once registered and "REQUEST <n>" after each reply, for the test to follow.
"""
import sys
import time

import zmq

endpoint, service = sys.argv[1], sys.argv[2].encode()
heartbeat = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
WORKER = b"MDPW01"
READY, REQUEST, REPLY, HB, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"

ctx = zmq.Context()


def connect():
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    sock.send_multipart([b"", WORKER, READY, service])
    print("READY", flush=True)
    return sock


sock = connect()
served = 0
next_beat = time.monotonic() + heartbeat
while True:
    if sock.poll(int(heartbeat * 1000)):
        frames = sock.recv_multipart()
        if len(frames) < 3 or frames[0] != b"" or frames[1] != WORKER:
            print("INVALID", frames, flush=True)
            continue
        command = frames[2]
        if command == REQUEST and len(frames) >= 5 and frames[4] == b"":
            client, body = frames[3], frames[5:]
            sock.send_multipart([b"", WORKER, REPLY, client, b""] + body)
            served += 1
            print("REQUEST", served, flush=True)
        elif command == DISCONNECT:
            sock.close()
            sock = connect()
    if time.monotonic() >= next_beat:
        sock.send_multipart([b"", WORKER, HB])
        next_beat = time.monotonic() + heartbeat
